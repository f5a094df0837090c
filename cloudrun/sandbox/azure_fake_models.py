"""The fake Azure ML workspace's model assets and datastores, and where a deployment's mounted model lands.

- Datastores (workspaces/WS/datastores/NAME): put and get. A Blob datastore names an existing account and container
  and stores no credentials when it uses identity-based access (learn.microsoft.com/azure/machine-learning/
  how-to-datastore, "Create an Azure Blob datastore").
- Model assets (models/NAME/versions/VERSION): a path on a datastore (azureml://datastores/DS/paths/PATH, short or
  with the workspace, as azure-ai-ml resolves it) or a URL of the sandbox's Blob account, resolved when registered:
  no blobs under it is refused (sandbox wording), as is a datastore that does not exist.
- The mount: how-to-deploy-custom-container.md ("Locating the mounted model") puts a model named foo, version 1, at
  <root>/foo/1, under model_mount_path when one is given; its TF Serving example finds the registered folder
  (half_plus_two) one level further down (MODEL_BASE_PATH .../tfserving-mounted/1, MODEL_NAME half_plus_two), as
  concept-online-deployment-model-specification.md reads AZUREML_MODEL_DIR/models/... for a folder named models.
  So here a folder asset's files appear at MOUNT/NAME/VERSION/FOLDER, FOLDER being the path's last segment.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

from cloudrun.sandbox.azure_fake_state import Reply, arm_error

if TYPE_CHECKING:
    from cloudrun.sandbox.azure_fake_arm import FakeArm

DATASTORE_URI = re.compile(
    r"^azureml://(?:subscriptions/[^/]+/resourcegroups/[^/]+/workspaces/[^/]+/)?datastores/(?P<name>[^/]+)"
    r"/paths/(?P<path>.*)$",
    re.IGNORECASE,
)
MANIFEST = "cloudrun-manifest.json"


def datastore(arm: FakeArm, method: str, parts: list[str], document: dict[str, Any]) -> Reply:
    """datastores/NAME: get, put (an Azure Blob datastore in the workspace's own storage account), delete."""
    name = parts[1]
    if method == "GET":
        return (200, {}, arm.datastores[name]) if name in arm.datastores else arm._missing("datastore", name)
    if method == "DELETE":
        arm.datastores.pop(name, None)
        return 200, {}, None
    if method != "PUT":
        return arm_error(405, "MethodNotAllowed", method)
    properties = dict(document.get("properties") or {})
    if properties.get("datastoreType") != "AzureBlob":
        return arm_error(400, "UserError", "the cloudrun sandbox emulates Azure Blob datastores only")
    if properties.get("accountName") != arm.blob.account:
        return arm_error(400, "UserError", f"storage account {properties.get('accountName')} was not found")
    arm.datastores[name] = {"id": arm._ws_id(f"/datastores/{name}"), "name": name,
                            "type": "Microsoft.MachineLearningServices/workspaces/datastores",
                            "properties": properties}  # fmt: skip
    return 200, {}, arm.datastores[name]


def model(arm: FakeArm, method: str, parts: list[str], document: dict[str, Any]) -> Reply:
    """models/NAME/versions[/VERSION]: list, get, put, delete; a path is resolved to blobs when registered."""
    name = parts[1]
    if len(parts) == 3:
        found = [m for (n, _), m in sorted(arm.models.items()) if n == name]
        return 200, {}, {"value": found}
    key = (name, parts[3])
    if method == "GET":
        return (200, {}, arm.models[key]) if key in arm.models else arm._missing("model", f"{name}:{parts[3]}")
    if method == "DELETE":
        arm.models.pop(key, None)
        return 200, {}, None
    if method != "PUT":
        return arm_error(405, "MethodNotAllowed", method)
    uri = str((document.get("properties") or {}).get("modelUri") or "")
    on_datastore = DATASTORE_URI.match(uri)
    if on_datastore and on_datastore["name"] not in arm.datastores:
        return arm_error(400, "UserError", f"Datastore {on_datastore['name']} was not found.")
    where = blob_location(arm, uri)
    if where is not None and not arm.blob.blobs_under(*where):
        return arm_error(400, "UserError", f"No files were found at the model path {uri}.")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    arm.models[key] = {"id": arm._ws_id(f"/models/{name}/versions/{parts[3]}"), "name": parts[3],
                       "type": "Microsoft.MachineLearningServices/workspaces/models/versions",
                       "systemData": {"createdAt": stamp, "createdBy": "cloudrun-sandbox", "createdByType": "User",
                                      "lastModifiedAt": stamp},  # as ARM answers (older SDKs read it)
                       "properties": {"flavors": {}, "provisioningState": "Succeeded",
                                      **(document.get("properties") or {})}}  # fmt: skip  # as ARM answers
    return 201, {}, arm.models[key]


def blob_location(arm: FakeArm, uri: str) -> tuple[str, str] | None:
    """Return (container, prefix) of a model path in the sandbox's storage account, or None if it is elsewhere."""
    ours = f"{arm.base_url}/blob/{arm.blob.account}/"
    if uri.startswith(ours):
        container, _, prefix = uri.removeprefix(ours).partition("/")
        return container, prefix
    found = DATASTORE_URI.match(uri)
    store = arm.datastores.get(found["name"]) if found else None
    if found is None or store is None:
        return None
    return str(store["properties"].get("containerName", "")), found["path"]


def mounted(arm: FakeArm, model_key: tuple[str, str], mount: str) -> dict[str, str]:
    """Return {folder in the container holding config.json: the staged model's id} for a deployment mounting the
    model asset `model_key` at `mount` (see the module's docstring for the layout)."""
    asset = arm.models.get(model_key)
    where = blob_location(arm, str((asset or {}).get("properties", {}).get("modelUri", "")))
    if where is None:
        return {}
    container, prefix = where
    blobs = arm.blob.blobs_under(container, prefix)
    folder = f"{mount.rstrip('/')}/{model_key[0]}/{model_key[1]}/{prefix.rstrip('/').rsplit('/', 1)[-1]}"
    if prefix + "config.json" not in blobs:
        return {}
    manifest = blobs.get(prefix + MANIFEST)
    try:
        model_id = str(json.loads(manifest["data"])["model_id"]) if manifest else folder
    except (ValueError, KeyError):
        model_id = folder
    return {folder: model_id}
