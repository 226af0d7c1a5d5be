"""End to end over HTTPS on the simulated backend: configure, deploy two DRVAs with one
request, add a log volume — all seen through the API of a separately started appliance."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import VCENTER
from tests.e2e.conftest import ServedAppliance

pytestmark = pytest.mark.e2e


def _act(appliance: ServedAppliance, client: httpx.Client, path: str, **body: Any) -> Any:
    response = client.post(path, json=body or None)
    assert response.status_code == 202, response.text
    return appliance.wait_task(client, response.json()["id"])


def test_deploy_two_drvas_and_a_log_volume(serve: Callable[..., ServedAppliance]) -> None:
    appliance = serve(JETDR_CLOCK__MODE="scaled", JETDR_CLOCK__SCALE="1000")
    appliance.start()
    with appliance.client() as client:
        assert _act(appliance, client, "/api/v1/vcenters", **VCENTER)["status"] == "succeeded"
        cluster = client.get("/api/v1/clusters").json()["items"][0]
        assert (
            _act(appliance, client, f"/api/v1/clusters/{cluster['id']}/actions/configure")["status"]
            == "succeeded"
        )
        datastore = client.get("/api/v1/datastores", params={"name": "vsanDatastore"}).json()
        network = client.get("/api/v1/networks", params={"name": "dhcp-segment"}).json()
        spec = {
            "name": "jetdr-drva",
            "cluster_id": cluster["id"],
            "datastore_id": datastore["items"][0]["id"],
            "network_id": network["items"][0]["id"],
        }
        response = client.post("/api/v1/drvas", json={**spec, "count": 2})
        assert response.status_code == 202
        for task in response.json()["items"]:
            assert appliance.wait_task(client, task["id"])["status"] == "succeeded"
        drvas = client.get("/api/v1/drvas").json()["items"]
        vms = {
            vm["name"]: vm
            for vm in client.get("/api/v1/vms", params={"limit": 1000}).json()["items"]
        }
        assert {d["name"] for d in drvas} == {"jetdr-drva-1", "jetdr-drva-2"}
        assert len({vms[d["name"]]["host_id"] for d in drvas}) == 2
        for drva in drvas:
            vm = vms[drva["name"]]
            assert vm["iso_path"] == drva["iso_path"] is not None
            assert vm["ip"] == drva["ip"] is not None
            assert vm["power_state"] == "poweredOn"

        busy_host = drvas[0]["host_id"]
        third = client.post("/api/v1/drvas", json={**spec, "name": "third", "host_id": busy_host})
        assert third.status_code == 409
        assert "at most one DRVA per host" in third.json()["message"]

        volume = _act(
            appliance,
            client,
            f"/api/v1/drvas/{drvas[0]['id']}/replication-log-volumes",
            type="vmdk",
            size_gb=50,
            datastore_id=spec["datastore_id"],
        )
        assert volume["status"] == "succeeded"
        vm = client.get(f"/api/v1/vms/{drvas[0]['vm_id']}").json()
        assert 50 * 1024**3 in [disk["capacity_bytes"] for disk in vm["disks"]]
