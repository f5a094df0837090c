"""The Azure fake answers the way ARM answers in the corners the adapter can reach: a create under a name still
being deleted, a deployment put again after it failed."""

from __future__ import annotations

import json
import time

from cloudrun.sandbox.azure_fake_arm import FakeArm

WS = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
AUTH = {"authorization": "Bearer t"}


def arm(delay_s: float = 0.0) -> FakeArm:
    fake = FakeArm(subscription="s", resource_group="rg", workspace="ws", location="eastus", provision_delay_s=delay_s)
    fake.base_url = "https://127.0.0.1:1"
    return fake


def put(fake: FakeArm, path: str, document: dict) -> tuple[int, dict, object]:
    return fake.handle("PUT", f"https://127.0.0.1:1{WS}{path}", AUTH, json.dumps(document).encode())


def test_a_create_under_a_name_still_being_deleted_is_refused_and_a_finished_delete_frees_it():
    fake = arm(delay_s=0.2)
    fake.add_endpoint("ep-one", tags={"cloudrun-managed": "true"})
    status, _, _ = fake.handle("DELETE", f"https://127.0.0.1:1{WS}/onlineEndpoints/ep-one", AUTH, b"")
    assert status == 202
    status, _, body = put(fake, "/onlineEndpoints/ep-one", {"location": "eastus", "properties": {"authMode": "Key"}})
    assert status == 400 and "already an endpoint with this name" in json.dumps(body)
    time.sleep(0.25)  # the deletion is due: the next PUT creates afresh (no dropped connection)
    status, _, body = put(fake, "/onlineEndpoints/ep-one", {"location": "eastus", "properties": {"authMode": "Key"}})
    assert status == 201 and body["properties"]["provisioningState"] == "Creating"


def test_a_deployment_put_again_before_its_failure_settled_gets_a_fresh_outcome():
    fake = arm(delay_s=0.2)
    fake.add_endpoint("ep-one")
    fake.environments["env"] = {"properties": {"image": "vllm/vllm-openai:v0.11.0"}}
    document = {"properties": {"instanceType": "Standard_NC24ads_A100_v4",
                               "environmentId": f"{WS}/environments/env/versions/1"}}  # fmt: skip
    fake.faults.readiness_logs.append("torch.OutOfMemoryError: CUDA out of memory")
    put(fake, "/onlineEndpoints/ep-one/deployments/main", document)  # will fail its readiness probe
    put(fake, "/onlineEndpoints/ep-one/deployments/main", document)  # replaced before that settled: will serve
    time.sleep(0.25)
    fake.settle()
    assert fake.deployments["ep-one", "main"]["properties"]["provisioningState"] == "Succeeded"
