"""Host and cluster issues as alarms: a host that fails the IO-filter install, stops responding
or runs without CIM raises `host_issue` (naming the host), shows in its cluster's issues, and
`Resolve-HostIssue` / `Repair-Cluster` clear it once the cause is gone."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from tests.conftest import Appliance


async def _cluster(appliance: Appliance) -> dict[str, Any]:
    items = (await appliance.client.get("/api/v1/clusters")).json()["items"]
    return dict(items[0])


async def _host(appliance: Appliance, name: str) -> dict[str, Any]:
    hosts = (await appliance.client.get("/api/v1/hosts", params={"name": name})).json()["items"]
    assert len(hosts) == 1, hosts
    return dict(hosts[0])


async def _run(appliance: Appliance, path: str) -> dict[str, Any]:
    response = await appliance.client.post(path)
    assert response.status_code == 202, response.text
    return await appliance.wait_task(response.json()["id"])


async def _host_alarms(appliance: Appliance) -> list[dict[str, Any]]:
    response = await appliance.client.get(
        "/api/v1/alarms", params={"active": "true", "type": "host_issue"}
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def _fault(appliance: Appliance, kind: str, target: str) -> str:
    response = await appliance.client.post(
        "/_emulator/faults", json={"kind": kind, "target": target}
    )
    assert response.status_code == 201, response.text
    assert response.json()["hits"] == 1
    return str(response.json()["id"])


async def _refresh(appliance: Appliance) -> None:
    vcenter = (await appliance.client.get("/api/v1/vcenters")).json()["items"][0]
    task = await _run(appliance, f"/api/v1/vcenters/{vcenter['id']}/actions/refresh-inventory")
    assert task["status"] == "succeeded", task


async def _configured(appliance: Appliance) -> dict[str, Any]:
    cluster = await _cluster(appliance)
    task = await _run(appliance, f"/api/v1/clusters/{cluster['id']}/actions/configure")
    assert task["status"] == "succeeded", task
    return cluster


async def test_a_failed_filter_install_raises_the_host_s_alarm_until_it_is_resolved(
    registered: Appliance,
) -> None:
    cluster = await _cluster(registered)
    await registered.simulator.fail_hosts(["esx-03"])
    await _run(registered, f"/api/v1/clusters/{cluster['id']}/actions/configure")
    host = await _host(registered, "esx-03")
    [alarm] = await _host_alarms(registered)
    assert alarm["entity"] == {"type": "host", "id": host["id"], "name": "esx-03"}
    assert alarm["severity"] == "warning"
    assert "esx-03" in alarm["message"]

    # Still failing: the retry runs and the alarm stays.
    retried = await _run(registered, f"/api/v1/hosts/{host['id']}/actions/resolve-issue")
    assert retried["status"] == "succeeded", retried
    assert [i["host"] for i in retried["result"]["issues"]] == ["esx-03"]
    assert len(await _host_alarms(registered)) == 1

    await registered.simulator.fail_hosts([])
    resolved = await _run(registered, f"/api/v1/hosts/{host['id']}/actions/resolve-issue")
    assert resolved["status"] == "succeeded", resolved
    assert resolved["result"] == {"status": "configured", "issues": []}
    assert await _host_alarms(registered) == []
    assert (await _host(registered, "esx-03"))["iofilter_status"] == "installed"
    cleared = (
        await registered.client.get("/api/v1/alarms", params={"entity_id": host["id"]})
    ).json()["items"]
    assert [a["cleared_at"] is not None for a in cleared] == [True]


async def test_a_host_that_stops_responding_has_an_issue_until_it_answers_again(
    registered: Appliance,
) -> None:
    cluster = await _configured(registered)
    fault = await _fault(registered, "host_unreachable", "esx-02")
    await _refresh(registered)
    host = await _host(registered, "esx-02")
    [alarm] = await _host_alarms(registered)
    assert alarm["entity"]["id"] == host["id"]
    assert "not responding" in alarm["message"]
    issues = (await registered.client.get(f"/api/v1/clusters/{cluster['id']}/issues")).json()
    assert [(i["host"], "not responding" in i["issue"]) for i in issues["items"]] == [
        ("esx-02", True)
    ]

    # A retry cannot reach it: the task fails naming the issue; the cluster is as it was.
    refused = await _run(registered, f"/api/v1/hosts/{host['id']}/actions/resolve-issue")
    assert refused["status"] == "failed"
    assert refused["error"]["error_code"] == "host_issue_persists"
    assert "not responding" in refused["error"]["message"]
    assert (await _cluster(registered))["status"] == "configured"
    assert len(await _host_alarms(registered)) == 1

    # It answers again: the host heartbeat sees it and the issue is gone, with nothing left
    # for Resolve-HostIssue to do.
    deleted = await registered.client.delete(f"/_emulator/faults/{fault}")
    assert deleted.status_code == 204
    await _alarms_until(registered, 0)
    assert (await registered.client.get(f"/api/v1/clusters/{cluster['id']}/issues")).json()[
        "items"
    ] == []
    nothing = await registered.client.post(f"/api/v1/hosts/{host['id']}/actions/resolve-issue")
    assert nothing.status_code == 409, nothing.text


async def test_repair_cluster_puts_the_filter_back_once_cim_runs_again(
    registered: Appliance,
) -> None:
    cluster = await _configured(registered)
    fault = await _fault(registered, "cim_stopped", "esx-01")
    await _refresh(registered)
    [alarm] = await _host_alarms(registered)
    assert alarm["entity"]["name"] == "esx-01"
    assert "CIM" in alarm["message"]

    # The filter is gone from the host meanwhile (someone removed the VIB by hand).
    def drop_host(state: Any) -> None:
        moref = cluster["moref"]
        filters = state.iofilters[moref]
        esx01 = next(h.moref for h in state.hosts if h.name == "esx-01")
        state.iofilters[moref] = [
            dataclasses.replace(f, hosts=tuple(h for h in f.hosts if h.host_moref != esx01))
            for f in filters
        ]

    await registered.simulator.mutate(drop_host)
    # While CIM is down the repair cannot install there: the cluster is left partly configured.
    partial = await _run(registered, f"/api/v1/clusters/{cluster['id']}/actions/repair")
    assert partial["status"] == "succeeded", partial
    assert partial["result"]["status"] == "partially_configured"
    assert "CIM" in partial["result"]["issues"][0]["issue"]
    assert len(await _host_alarms(registered)) == 1

    assert (await registered.client.delete(f"/_emulator/faults/{fault}")).status_code == 204
    repaired = await _run(registered, f"/api/v1/clusters/{cluster['id']}/actions/repair")
    assert repaired["status"] == "succeeded", repaired
    assert repaired["result"] == {"status": "configured", "issues": []}
    assert await _host_alarms(registered) == []
    detail = (await registered.client.get(f"/api/v1/clusters/{cluster['id']}")).json()
    assert {h["iofilter_status"] for h in detail["hosts"]} == {"installed"}


async def test_hosts_of_an_unconfigured_cluster_raise_nothing_and_actions_refuse(
    registered: Appliance,
) -> None:
    cluster = await _cluster(registered)
    await _fault(registered, "host_unreachable", "esx-04")
    await _refresh(registered)
    assert await _host_alarms(registered) == []
    host = await _host(registered, "esx-04")
    refused = await registered.client.post(f"/api/v1/hosts/{host['id']}/actions/resolve-issue")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error_code"] == "invalid_state"
    repair = await registered.client.post(f"/api/v1/clusters/{cluster['id']}/actions/repair")
    assert repair.status_code == 409, repair.text
    missing = await registered.client.post("/api/v1/hosts/host-nope/actions/resolve-issue")
    assert missing.status_code == 404


async def test_a_healthy_host_has_no_issue_to_resolve(registered: Appliance) -> None:
    await _configured(registered)
    host = await _host(registered, "esx-01")
    refused = await registered.client.post(f"/api/v1/hosts/{host['id']}/actions/resolve-issue")
    assert refused.status_code == 409, refused.text
    assert "no issue" in refused.json()["message"]


async def _alarms_until(appliance: Appliance, count: int) -> list[dict[str, Any]]:
    """The active host alarms once there are `count` of them (the heartbeat runs on its own)."""
    for _ in range(200):
        found = await _host_alarms(appliance)
        if len(found) == count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} host alarms expected, found {await _host_alarms(appliance)}")


async def test_the_heartbeat_sees_a_host_stop_and_come_back_without_a_refresh(
    registered: Appliance,
) -> None:
    await _configured(registered)
    fault = await _fault(registered, "host_unreachable", "esx-03")
    [alarm] = await _alarms_until(registered, 1)
    assert alarm["entity"]["name"] == "esx-03"
    assert "not responding" in alarm["message"]
    assert (await _host(registered, "esx-03"))["connection_state"] == "notResponding"
    assert (await registered.client.delete(f"/_emulator/faults/{fault}")).status_code == 204
    await _alarms_until(registered, 0)
    assert (await _host(registered, "esx-03"))["connection_state"] == "connected"
