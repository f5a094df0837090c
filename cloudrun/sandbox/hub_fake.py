"""A fake Hugging Face Hub on 127.0.0.1 (stdlib only): the two GETs `cloudrun stage` sends (cloudrun.hub).

`GET /api/models/{id}/revision/{rev}?blobs=true` answers the repository's commit and `siblings` as the Hub does
(rfilename, size, blobId; lfs {sha256, size} for LFS files); `GET /{id}/resolve/{rev}/{path}` streams a file. Files
are small stand-ins with the real shapes of names (model-00001-of-00014.safetensors ...): deterministic bytes, so
sizes and hashes are stable and checkable. Strict where the Hub is: a gated model answers 401 without a bearer token
and 403 with one that has not been granted (huggingface.co/docs/hub/models-gated), an unknown repository or revision
404. `cut_next(path, at)` makes the next download of a file stop early, as a dropped connection does.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from cloudrun.sandbox.http_fake import FaultQueue, JsonHandler, RunningServer, start_server

COMMIT = "0123456789abcdef0123456789abcdef01234567"
GRANTED_TOKEN = "hf_sandbox_granted"  # a token that has accepted every gated model's licence
# model id -> weight shards, as the real repositories split them (their model.safetensors.index.json)
SHARDS = {"deepseek-ai/deepseek-llm-67b-chat": 14, "deepseek-ai/deepseek-llm-67b-base": 14,
          "deepseek-ai/deepseek-llm-7b-chat": 2, "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": 2,
          "deepseek-ai/DeepSeek-R1-Distill-Llama-8B": 2, "meta-llama/Llama-3.1-8B-Instruct": 4}  # fmt: skip
GATED = {"meta-llama/Llama-3.1-8B-Instruct"}
SMALL_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
               "model.safetensors.index.json", "README.md", ".gitattributes")  # fmt: skip


@dataclass
class HubState:
    """The fake's repositories: model id -> {path: content}; the requests it saw; faults queued."""

    shard_bytes: int = 2 * 1024 * 1024
    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)
    gated: set[str] = field(default_factory=lambda: set(GATED))
    seen: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, authorization)
    cuts: FaultQueue[tuple[str, int]] = field(default_factory=FaultQueue)  # (file path, bytes sent before closing)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def repo(self, model_id: str) -> dict[str, bytes] | None:
        if model_id not in self.repos and model_id in SHARDS:
            self.repos[model_id] = _files(model_id, SHARDS[model_id], self.shard_bytes)
        return self.repos.get(model_id)


def _files(model_id: str, shards: int, shard_bytes: int) -> dict[str, bytes]:
    names = [f"model-{i:05d}-of-{shards:05d}.safetensors" for i in range(1, shards + 1)]
    files = {name: _content(f"{model_id}/{name}", shard_bytes + i * 4099) for i, name in enumerate(names)}
    files.update({name: json.dumps({"_name_or_path": model_id, "file": name}).encode() for name in SMALL_FILES})
    return files


def _content(seed: str, size: int) -> bytes:
    block = hashlib.sha256(seed.encode()).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


def _sibling(path: str, content: bytes) -> dict[str, object]:
    git = hashlib.sha1(f"blob {len(content)}\0".encode() + content, usedforsecurity=False).hexdigest()
    entry: dict[str, object] = {"rfilename": path, "size": len(content), "blobId": git}
    if path.endswith(".safetensors"):  # LFS: the Hub gives the pointer's size and the content's sha256
        entry["lfs"] = {"size": len(content), "sha256": hashlib.sha256(content).hexdigest(), "pointerSize": 134}
    return entry


class _Handler(JsonHandler):
    state: HubState

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = unquote(urlsplit(self.path).path)
        auth = self.headers.get("Authorization", "")
        with self.state.lock:
            self.state.seen.append(("GET", path, auth))
            answer = self._answer(path, auth)
        if isinstance(answer[0], int):
            self.send_json(answer[0], {"error": answer[1]})
            return
        content, cut = answer
        assert isinstance(content, bytes)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content[:cut] if cut is not None else content)
        if cut is not None:
            self.close_connection = True

    def _answer(self, path: str, auth: str) -> tuple[int, str] | tuple[bytes, int | None]:
        api = path.startswith("/api/models/")
        parts = path.removeprefix("/api/models/" if api else "/").split("/")
        model_id = "/".join(parts[:2])
        files = self.state.repo(model_id)
        if files is None:
            return 404, "Repository Not Found"
        if model_id in self.state.gated:
            if not auth.startswith("Bearer "):
                return 401, f"Access to model {model_id} is restricted. You must have access to it and be authenticated"
            if auth != f"Bearer {GRANTED_TOKEN}":
                return 403, f"Access to model {model_id} is restricted and you are not in the authorized list"
        kind, revision, rest = (parts[2:3] or [""])[0], (parts[3:4] or [""])[0], "/".join(parts[4:])
        if revision not in ("main", COMMIT):
            return 404, f"Invalid rev id: {revision}"
        if api and kind == "revision" and not rest:
            siblings = [_sibling(name, content) for name, content in sorted(files.items())]
            return json.dumps({"id": model_id, "sha": COMMIT, "siblings": siblings}).encode(), None
        if not api and kind == "resolve" and rest in files:
            cut = self.state.cuts.take(lambda fault: fault[0] == rest)
            return files[rest], None if cut is None else cut[1]
        return 404, "Entry not found"


@dataclass
class HubSandbox(RunningServer):
    """A running fake Hub; `stop()` ends it."""

    url: str
    state: HubState

    def cut_next(self, path: str, at: int) -> None:
        """Make the next download of `path` (in any repository) stop after `at` bytes."""
        with self.state.lock:
            self.state.cuts.append((path, at))


def start(port: int = 0, shard_bytes: int = 2 * 1024 * 1024) -> HubSandbox:
    """Return a fake Hub on 127.0.0.1 whose weight shards are about `shard_bytes` each."""
    state = HubState(shard_bytes=shard_bytes)
    handler = type("HubHandler", (_Handler,), {"state": state})
    server, thread = start_server(handler, port, "hub-fake", poll_interval=0.05)
    host, bound = server.server_address[:2]
    return HubSandbox(server=server, thread=thread, url=f"http://{host}:{bound}", state=state)
