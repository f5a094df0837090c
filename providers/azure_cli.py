"""`cloudrun azure build-image`: build the vLLM wrapper image Azure ML needs into your registry, one command.

Azure ML online deployments take no container arguments, so cloudrun passes vLLM's as environment variables
(VLLM_MODEL, VLLM_ARGS), which the stock vllm/vllm-openai image ignores. The wrapper is two lines on top of it
(templates/azureml-vllm.json, "dockerfile"); this command writes them out and runs Azure Container Registry's
own build, `az acr build --registry REGISTRY --image NAME:TAG DIR` (learn.microsoft.com, "Build container images
using Azure Container Registry Tasks"), so nothing is built or pushed from this machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import typer

from cloudrun.errors import CloudrunError, InvalidInput
from cloudrun.terminal import DryRunOpt, YesOpt, confirm, errors_to_exit, out

azure_app = typer.Typer(help="Azure ML helpers: the vLLM wrapper image its deployments need.", no_args_is_help=True)

REGISTRY_NAME = re.compile(r"^[a-zA-Z0-9]{5,50}$")  # ACR names: 5-50 alphanumerics
DEFAULT_IMAGE = "cloudrun/vllm-wrapper:{version}-{revision}"  # rebuilt when the wrapper changes
REGISTRY_HELP = ("Your Azure Container Registry's name; the workspace's is the last part of "
                 "`az ml workspace show --query container_registry`.")  # fmt: skip


@azure_app.command("build-image")
@errors_to_exit
def build_image(
    registry: str = typer.Option(..., "--registry", help=REGISTRY_HELP),
    image: str | None = typer.Option(None, "--image", help="Name:tag to build (default: cloudrun/vllm-wrapper:TAG)."),
    output: Path | None = typer.Option(None, "--output", help="Keep the build folder (Dockerfile) here."),
    dry_run: bool = DryRunOpt,
    yes: bool = YesOpt,
) -> None:
    """Build the vLLM wrapper image Azure ML needs in your container registry (`az acr build`)."""
    from cloudrun.providers import azure_template  # pure: no Azure SDK

    if not REGISTRY_NAME.match(registry):
        raise InvalidInput(f"{registry!r} is not an Azure Container Registry name (5-50 letters and digits)",
                           hint="pass the registry's name, not its login server (drop .azurecr.io)")  # fmt: skip
    template = azure_template.load_template()
    image = image or DEFAULT_IMAGE.format(version=template["image"].rsplit(":", 1)[-1],
                                          revision=template["wrapper_revision"])  # fmt: skip
    full = f"{registry.lower()}.azurecr.io/{image}"
    dockerfile = "\n".join(template["dockerfile"]) + "\n"
    shown = str(output) if output else "DIR"
    out.print(f"{shown}/Dockerfile:", highlight=False, markup=False)
    out.print(dockerfile, highlight=False, markup=False)
    out.print(f"$ az acr build --registry {registry} --image {image} {shown}", highlight=False, markup=False)
    if dry_run:
        out.print(f"dry run: nothing written or built; then: export CLOUDRUN_AZUREML_IMAGE={full}", highlight=False)
        return
    az = shutil.which("az")
    if az is None:
        hint = "install it, or run the command above from a folder holding that Dockerfile"
        raise CloudrunError("the Azure CLI (`az`) is not installed here", hint=hint)
    confirm(f"Build {full} with ACR Tasks (billed by your registry)?", yes=yes)
    folder = Path(output) if output else Path(tempfile.mkdtemp(prefix="cloudrun-azure-image-"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    command = [az, "acr", "build", "--registry", registry, "--image", image, str(folder)]
    if subprocess.run(command, check=False).returncode != 0:
        raise CloudrunError("`az acr build` failed (its output is above)", hint="check `az login` and the registry")
    out.print(f"built {full}; now:  export CLOUDRUN_AZUREML_IMAGE={full}", highlight=False)
