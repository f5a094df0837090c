"""The Hugging Face Hub, read for staging: a model's files at one commit (sizes and hashes), and one file as a stream.

Two HTTP GETs, the ones huggingface_hub itself sends (huggingface/huggingface_hub src/huggingface_hub/hf_api.py
`model_info(..., files_metadata=True)` -> `GET {endpoint}/api/models/{repo_id}/revision/{revision}` with `blobs=True`,
whose `siblings` carry `rfilename`, `size`, `blobId` (the git blob SHA-1) and, for LFS files, `lfs.sha256`; and
file_download.py `hf_hub_url` -> `{endpoint}/{repo_id}/resolve/{revision}/{filename}`). The endpoint is
huggingface_hub's own variable, HF_ENDPOINT (constants.py `ENDPOINT`), default https://huggingface.co; the sandbox
points it at its loopback Hub. Nothing is written to disk: a file is read in chunks by whoever uploads it.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, BinaryIO

from cloudrun.errors import CloudrunError, InvalidInput, Transient
from cloudrun.loopback import is_loopback

ENDPOINT_ENV = "HF_ENDPOINT"
DEFAULT_ENDPOINT = "https://huggingface.co"
TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
TIMEOUT_S = 60.0
# What a serving container reads from a checkpoint: weights as safetensors, config, tokenizer, generation config,
# and the Python a remote-code model ships. Pickled *.bin/*.pt weights are left out when safetensors exist (vLLM
# loads safetensors first: vllm/model_executor/model_loader/default_loader.py `_prepare_weights`).
_WANTED_SUFFIXES = (".safetensors", ".json", ".model", ".txt", ".py", ".tiktoken", ".jinja")
_PICKLED_SUFFIXES = (".bin", ".pt", ".pth")
_SKIPPED_DIRS = ("original/", "onnx/", "gguf/")


@dataclass(frozen=True)
class HubFile:
    """One file of a model repository at a commit: its path, size in bytes, and hashes where the Hub gives them."""

    path: str
    size: int
    sha256: str | None = None  # LFS files only
    git_sha1: str | None = None  # the git blob id, for every file


@dataclass(frozen=True)
class Snapshot:
    """A model repository at one commit: the files a serving container needs."""

    model_id: str
    revision: str  # the commit SHA the branch or tag resolved to
    files: tuple[HubFile, ...]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def endpoint() -> str:
    """Return the Hub's base URL: $HF_ENDPOINT (https, or http on this machine) or https://huggingface.co."""
    url = (os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT).rstrip("/")
    if not url.startswith("https://") and not (url.startswith("http://") and is_loopback(url)):
        raise InvalidInput(f"{ENDPOINT_ENV}={url!r} must be an https URL", hint=f"unset {ENDPOINT_ENV} to use the Hub")
    return url


def token() -> str | None:
    """Return the Hugging Face token from the environment, or None."""
    return next((os.environ[name] for name in TOKEN_VARIABLES if os.environ.get(name)), None)


def snapshot(model_id: str, revision: str = "main") -> Snapshot:
    """Return the model's servable files at `revision` with their sizes and hashes; InvalidInput if gated or missing."""
    quoted = urllib.parse.quote(revision, safe="")
    url = f"{endpoint()}/api/models/{model_id}/revision/{quoted}?blobs=true"
    with _get(url, model_id, "file list") as response:
        info = json.loads(response.read(16 * 1024 * 1024))
    files = [_to_file(sibling) for sibling in info.get("siblings") or []]
    commit = str(info.get("sha") or revision)
    chosen = servable(files)
    if not chosen:
        raise InvalidInput(f"{model_id} at {revision} has no weights cloudrun can stage (no *.safetensors or *.bin)")
    return Snapshot(model_id=model_id, revision=commit, files=tuple(chosen))


def open_file(model_id: str, revision: str, path: str) -> BinaryIO:
    """Return the file's content as a stream (read it in chunks, then close it)."""
    url = f"{endpoint()}/{model_id}/resolve/{urllib.parse.quote(revision, safe='')}/{urllib.parse.quote(path)}"
    return _get(url, model_id, path)


def public(model_id: str, revision: str = "main") -> bool:
    """Return whether the model's file list answers without a token (False: gated or private), so a machine in the
    cloud that copies it is given HF_TOKEN only when it needs one."""
    url = f"{endpoint()}/api/models/{model_id}/revision/{urllib.parse.quote(revision, safe='')}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url), timeout=TIMEOUT_S):  # noqa: S310 - as in _get
            return True
    except urllib.error.HTTPError as err:
        if err.code in (401, 403):
            return False
        raise Transient(f"the Hugging Face Hub answered HTTP {err.code} for {model_id}'s file list") from err
    except OSError as err:
        raise Transient(f"the Hugging Face Hub is not reachable for {model_id}: {err}") from err


def servable(files: list[HubFile]) -> list[HubFile]:
    """Return the files a serving container reads: safetensors (or, without them, pickled weights), configs,
    tokenizer files and remote code; never other formats' folders or the repository's odds and ends."""
    kept = [f for f in files if not f.path.startswith(_SKIPPED_DIRS)]
    has_safetensors = any(f.path.endswith(".safetensors") for f in kept)
    wanted = _WANTED_SUFFIXES if has_safetensors else _WANTED_SUFFIXES + _PICKLED_SUFFIXES
    return sorted((f for f in kept if f.path.endswith(wanted) and f.path != ".gitattributes"), key=lambda f: f.path)


def _to_file(sibling: dict[str, Any]) -> HubFile:
    lfs = sibling.get("lfs") or {}
    size = lfs.get("size", sibling.get("size"))
    if not isinstance(sibling.get("rfilename"), str) or not isinstance(size, int) or size < 0:
        raise CloudrunError(f"the Hub listed a file without a name or size: {str(sibling)[:200]}")
    return HubFile(sibling["rfilename"], size, lfs.get("sha256"), sibling.get("blobId"))


def _get(url: str, model_id: str, what: str) -> Any:
    if os.environ.get("CLOUDRUN_OFFLINE", "") not in ("", "0") and not is_loopback(url):  # a local Hub is not online
        raise InvalidInput(f"staging {model_id} reads the Hugging Face Hub, and CLOUDRUN_OFFLINE is set",
                           hint="unset CLOUDRUN_OFFLINE")  # fmt: skip
    secret = token()
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {secret}"} if secret else {})
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)  # noqa: S310 - https, or loopback (endpoint())
    except urllib.error.HTTPError as err:
        reason = f"the Hugging Face Hub answered HTTP {err.code} for {model_id}'s {what}"
        # A gated repository answers 401 without a token and 403 with one that has no access
        # (huggingface_hub's GatedRepoError; huggingface.co/docs/hub/models-gated)
        if err.code in (401, 403):
            fix = ("your HF_TOKEN has no access: accept the licence" if secret
                   else "set HF_TOKEN to a token (huggingface.co/settings/tokens) whose account accepted the licence")
            raise InvalidInput(f"{reason}: the model is gated or private",
                               hint=f"{fix} at https://huggingface.co/{model_id}") from err  # fmt: skip
        if err.code == 404:
            raise InvalidInput(f"{reason}: no such model or revision", hint="check the model id") from err
        raise Transient(reason) from err
    except OSError as err:  # DNS, TLS, timeout, refused
        raise Transient(f"the Hugging Face Hub is not reachable for {model_id}: {err}") from err
