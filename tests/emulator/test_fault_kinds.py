"""The fault kinds beyond task-step errors: vCenter faults, unreachable hosts, hung steps."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import Appliance


async def cluster_of(appliance: Appliance) -> dict[str, Any]:
    found: dict[str, Any] = (await appliance.client.get("/api/v1/clusters")).json()["items"][0]
    return found


async def configure(appliance: Appliance, cluster_id: str) -> dict[str, Any]:
    response = await appliance.client.post(f"/api/v1/clusters/{cluster_id}/actions/configure")
    assert response.status_code == 202, response.text
    return await appliance.wait_task(response.json()["id"])


async def test_a_vcenter_fault_fails_the_call_it_names(registered: Appliance) -> None:
    client = registered.client
    rule = await client.post(
        "/_emulator/faults",
        json={
            "target": "install_iofilter",
            "kind": "vcenter_fault",
            "error_code": "vim_fault",
            "count": 1,
        },
    )
    assert rule.status_code == 201, rule.text
    cluster = await cluster_of(registered)
    failed = await configure(registered, cluster["id"])
    assert failed["status"] == "failed"
    assert failed["error"]["error_code"] == "vim_fault"
    assert "install_iofilter" in failed["error"]["message"]
    # `count: 1` is spent: the next attempt goes through.
    rules = (await client.get("/_emulator/faults")).json()
    assert [r["hits"] for r in rules] == [1]
    assert (await configure(registered, cluster["id"]))["status"] == "succeeded"


async def test_an_unreachable_host_until_the_rule_goes(registered: Appliance) -> None:
    client = registered.client
    rule = await client.post(
        "/_emulator/faults", json={"target": "esx-02", "kind": "host_unreachable"}
    )
    assert rule.status_code == 201, rule.text
    assert rule.json()["hits"] == 1
    cluster = await cluster_of(registered)
    await configure(registered, cluster["id"])
    hosts = {h["name"]: h for h in (await client.get("/api/v1/hosts")).json()["items"]}
    assert hosts["esx-02"]["connection_state"] == "notResponding"
    assert "not responding" in (hosts["esx-02"]["issue"] or "")
    assert (await client.get(f"/api/v1/clusters/{cluster['id']}")).json()["status"] == (
        "partially_configured"
    )
    assert (await client.delete(f"/_emulator/faults/{rule.json()['id']}")).status_code == 204
    resolved = await client.post(f"/api/v1/clusters/{cluster['id']}/actions/resolve-issues")
    done = await registered.wait_task(resolved.json()["id"])
    assert done["status"] == "succeeded", done
    assert (await client.get(f"/api/v1/clusters/{cluster['id']}")).json()["status"] == "configured"


async def test_a_hung_step_waits_until_its_rule_is_deleted(registered: Appliance) -> None:
    client = registered.client
    rule = await client.post(
        "/_emulator/faults", json={"target": "configure_cluster.install_filter", "kind": "hang"}
    )
    assert rule.status_code == 201, rule.text
    cluster = await cluster_of(registered)
    started = await client.post(f"/api/v1/clusters/{cluster['id']}/actions/configure")
    task_id = started.json()["id"]
    for _ in range(200):
        task = (await client.get(f"/api/v1/tasks/{task_id}")).json()
        steps = {s["name"]: s["status"] for s in task["steps"]}
        if steps["install_filter"] == "running":
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    task = (await client.get(f"/api/v1/tasks/{task_id}")).json()
    assert task["status"] == "running", task
    assert (await client.delete(f"/_emulator/faults/{rule.json()['id']}")).status_code == 204
    assert (await registered.wait_task(task_id))["status"] == "succeeded"


async def test_fault_targets_are_checked_against_their_kind(appliance: Appliance) -> None:
    hung = await appliance.client.post("/_emulator/faults", json={"target": "*", "kind": "hang"})
    assert hung.status_code == 422
    unknown = await appliance.client.post(
        "/_emulator/faults", json={"target": "*", "kind": "meteor"}
    )
    assert unknown.status_code == 422
