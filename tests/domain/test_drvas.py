"""DRVA deployment and replication log volumes on the simulated vCenter."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.drvas.images import read_manifest
from tests.conftest import Appliance
from tests.domain.conftest import prepare_site


@pytest.fixture
async def configured(registered: Appliance) -> dict[str, Any]:
    client = registered.client
    cluster = (await client.get("/api/v1/clusters")).json()["items"][0]
    response = await client.post(f"/api/v1/clusters/{cluster['id']}/actions/configure")
    assert (await registered.wait_task(response.json()["id"]))["status"] == "succeeded"
    datastore = (await client.get("/api/v1/datastores", params={"name": "vsanDatastore"})).json()
    network = (await client.get("/api/v1/networks", params={"name": "dhcp-segment"})).json()
    static = (await client.get("/api/v1/networks", params={"name": "VM Network"})).json()
    return {
        "cluster": cluster,
        "datastore_id": datastore["items"][0]["id"],
        "network_id": network["items"][0]["id"],
        "static_network_id": static["items"][0]["id"],
    }


def _spec(place: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "name": "drva",
        "cluster_id": place["cluster"]["id"],
        "datastore_id": place["datastore_id"],
        "network_id": place["network_id"],
        **overrides,
    }


async def test_images_are_real_iso_files(appliance: Appliance) -> None:
    images = (await appliance.client.get("/api/v1/drva-images")).json()["items"]
    assert [i["version"] for i in images] == ["5.0.4"]
    image = (await appliance.container.images.images())[0]
    data = image.path.read_bytes()
    assert data[0x8001:0x8006] == b"CD001"
    assert images[0]["size_bytes"] == len(data)
    assert read_manifest(image.path)["version"] == "5.0.4"


async def test_deploy_two_with_one_request_on_two_hosts(
    registered: Appliance, configured: dict[str, Any]
) -> None:
    client = registered.client
    response = await client.post("/api/v1/drvas", json=_spec(configured, count=2))
    assert response.status_code == 202
    tasks = response.json()["items"]
    assert len(tasks) == 2
    for task in tasks:
        done = await registered.wait_task(task["id"])
        assert done["status"] == "succeeded", done
    drvas = (await client.get("/api/v1/drvas")).json()["items"]
    assert [d["name"] for d in drvas] == ["drva-1", "drva-2"]
    assert len({d["host_id"] for d in drvas}) == 2
    assert all(d["status"] == "running" and d["ip"] for d in drvas)
    state = await registered.simulator.state()
    vms = {vm.moref: vm for vm in state.vms}
    for drva in drvas:
        vm = vms[drva["vm_moref"]]
        assert (vm.cpu, vm.memory_mb, vm.power_state) == (4, 8192, "poweredOn")
        assert drva["iso_path"] == "[vsanDatastore] jetstream/drva/jetstream-drva-5.0.4.iso"
        assert drva["vm_id"] is not None
    assert list(state.files[next(iter(state.files))]) == ["jetstream/drva/jetstream-drva-5.0.4.iso"]


async def test_one_drva_per_host(registered: Appliance, configured: dict[str, Any]) -> None:
    client = registered.client
    host = configured["cluster"]["hosts"][0]["id"]
    first = await client.post("/api/v1/drvas", json=_spec(configured, name="a", host_id=host))
    assert (await registered.wait_task(first.json()["id"]))["status"] == "succeeded"
    second = await client.post("/api/v1/drvas", json=_spec(configured, name="b", host_id=host))
    assert second.status_code == 409
    assert second.json()["error_code"] == "host_has_drva"
    assert "at most one DRVA per host" in second.json()["message"]
    too_many = await client.post("/api/v1/drvas", json=_spec(configured, name="c", count=4))
    assert too_many.status_code == 409
    assert too_many.json()["error_code"] == "no_free_host"


async def test_deploy_on_an_unconfigured_cluster_is_409(registered: Appliance) -> None:
    client = registered.client
    cluster = (await client.get("/api/v1/clusters")).json()["items"][0]
    datastore = (await client.get("/api/v1/datastores")).json()["items"][0]
    network = (await client.get("/api/v1/networks")).json()["items"][0]
    response = await client.post(
        "/api/v1/drvas",
        json={
            "name": "x",
            "cluster_id": cluster["id"],
            "datastore_id": datastore["id"],
            "network_id": network["id"],
        },
    )
    assert response.status_code == 409
    assert response.json()["error_code"] == "invalid_state"


async def test_static_address_is_validated_and_reported(
    registered: Appliance, configured: dict[str, Any]
) -> None:
    client = registered.client
    place = {**configured, "network_id": configured["static_network_id"]}
    bad: list[dict[str, Any]] = [
        {"ip_mode": "static", "ip": "10.0.0.5"},
        {"ip_mode": "static", "ip": "10.0.0.5", "netmask": "255.255.255.0", "gateway": "10.9.9.1"},
        {"ip_mode": "dhcp", "ip": "10.0.0.5"},
        {
            "ip_mode": "static",
            "ip": "10.0.0.5",
            "netmask": "255.255.255.0",
            "gateway": "10.0.0.1",
            "count": 2,
        },
    ]
    for extra in bad:
        response = await client.post("/api/v1/drvas", json=_spec(place, **extra))
        assert response.status_code == 422, extra
    good = {
        "ip_mode": "static",
        "ip": "10.0.0.5",
        "netmask": "255.255.255.0",
        "gateway": "10.0.0.1",
    }
    task = (await client.post("/api/v1/drvas", json=_spec(place, name="s1", **good))).json()
    assert (await registered.wait_task(task["id"]))["result"]["ip"] == "10.0.0.5"
    again = await client.post("/api/v1/drvas", json=_spec(place, name="s2", **good))
    assert again.status_code == 409
    assert again.json()["error_code"] == "ip_in_use"


async def test_failure_after_the_vm_exists_leaves_nothing_behind(
    registered: Appliance, configured: dict[str, Any]
) -> None:
    client = registered.client
    fault = await client.post(
        "/_emulator/faults", json={"target": "deploy_drva.wait_for_ip", "kind": "error", "count": 1}
    )
    assert fault.status_code == 201
    task = (await client.post("/api/v1/drvas", json=_spec(configured))).json()
    done = await registered.wait_task(task["id"])
    assert done["status"] == "failed"
    assert done["error"]["error_code"] == "injected_fault"
    assert [s["status"] for s in done["steps"][:4]] == ["succeeded"] * 4
    assert (await client.get("/api/v1/drvas")).json()["_meta"]["total"] == 0
    state = await registered.simulator.state()
    assert not any(vm.name == "drva" for vm in state.vms)
    assert all(not files for files in state.files.values())
    assert (await client.get("/_emulator/faults")).json()[0]["hits"] == 1


async def test_log_volumes_vmdk_and_iscsi(
    registered: Appliance, configured: dict[str, Any]
) -> None:
    client = registered.client
    task = (await client.post("/api/v1/drvas", json=_spec(configured))).json()
    await registered.wait_task(task["id"])
    drva = (await client.get("/api/v1/drvas")).json()["items"][0]
    base = f"/api/v1/drvas/{drva['id']}/replication-log-volumes"
    vmdk = await client.post(
        base, json={"type": "vmdk", "size_gb": 50, "datastore_id": configured["datastore_id"]}
    )
    assert (await registered.wait_task(vmdk.json()["id"]))["status"] == "succeeded"
    iscsi = await client.post(
        base,
        json={
            "type": "iscsi",
            "size_gb": 200,
            "iscsi_target": "iqn.2005-10.org.freenas.ctl:jetdr",
            "lun": 3,
        },
    )
    assert (await registered.wait_task(iscsi.json()["id"]))["status"] == "succeeded"
    volumes = (await client.get(base)).json()["items"]
    assert [(v["type"], v["size_gb"], v["status"]) for v in volumes] == [
        ("vmdk", 50, "ready"),
        ("iscsi", 200, "ready"),
    ]
    assert volumes[0]["usage_percent"] == 0.0
    vm = next(vm for vm in (await registered.simulator.state()).vms if vm.moref == drva["vm_moref"])
    assert sorted(d.capacity_bytes // 1024**3 for d in vm.disks) == [16, 50]
    for body in (
        {"type": "vmdk", "size_gb": 50},
        {"type": "iscsi", "size_gb": 50, "iscsi_target": "not-an-iqn", "lun": 1},
        {"type": "vmdk", "size_gb": 1, "datastore_id": configured["datastore_id"]},
    ):
        assert (await client.post(base, json=body)).status_code == 422, body
    removed = await client.delete(f"{base}/{volumes[0]['id']}")
    assert (await registered.wait_task(removed.json()["id"]))["status"] == "succeeded"
    vm = next(vm for vm in (await registered.simulator.state()).vms if vm.moref == drva["vm_moref"])
    assert [d.capacity_bytes // 1024**3 for d in vm.disks] == [16]
    assert (await client.get(f"{base}/{volumes[0]['id']}")).status_code == 404


async def test_delete_removes_the_vm_and_the_iso(
    registered: Appliance, configured: dict[str, Any]
) -> None:
    client = registered.client
    task = (await client.post("/api/v1/drvas", json=_spec(configured))).json()
    await registered.wait_task(task["id"])
    drva = (await client.get("/api/v1/drvas")).json()["items"][0]
    deleted = await client.delete(f"/api/v1/drvas/{drva['id']}")
    assert deleted.status_code == 202
    assert (await registered.wait_task(deleted.json()["id"]))["status"] == "succeeded"
    assert (await client.get(f"/api/v1/drvas/{drva['id']}")).status_code == 404
    state = await registered.simulator.state()
    assert not any(vm.moref == drva["vm_moref"] for vm in state.vms)
    assert all(not files for files in state.files.values())
    assert (await client.get("/api/v1/vms", params={"name": "drva"})).json()["_meta"]["total"] == 0


async def _wait_status(appliance: Appliance, drva_id: str, status: str) -> dict[str, Any]:
    import asyncio

    for _ in range(400):
        drva = (await appliance.client.get(f"/api/v1/drvas/{drva_id}")).json()
        if drva["status"] == status:
            return dict(drva)
        await asyncio.sleep(0.02)
    raise AssertionError(f"DRVA never became {status}: {drva}")


async def test_heartbeat_alarm_restart_and_redeploy(
    registered: Appliance, configured: dict[str, Any]
) -> None:
    client = registered.client
    task = (await client.post("/api/v1/drvas", json=_spec(configured))).json()
    await registered.wait_task(task["id"])
    drva = (await client.get("/api/v1/drvas")).json()["items"][0]
    base = f"/api/v1/drvas/{drva['id']}"
    volume = await client.post(
        f"{base}/replication-log-volumes",
        json={"type": "vmdk", "size_gb": 50, "datastore_id": configured["datastore_id"]},
    )
    await registered.wait_task(volume.json()["id"])
    vc = await registered.simulator.connect(_endpoint(registered))
    await vc.power_off_vm(drva["vm_moref"])
    stopped = await _wait_status(registered, drva["id"], "stopped")
    assert stopped["id"] == drva["id"]
    alarms = (
        await client.get("/api/v1/alarms", params={"active": "true", "type": "drva_down"})
    ).json()
    assert [a["entity"]["id"] for a in alarms["items"]] == [drva["id"]]
    assert alarms["items"][0]["severity"] == "critical"

    restart = (await client.post(f"{base}/actions/restart")).json()
    assert (await registered.wait_task(restart["id"]))["status"] == "succeeded"
    assert (await client.get(base)).json()["status"] == "running"
    assert (await client.get("/api/v1/alarms", params={"active": "true"})).json()["_meta"][
        "total"
    ] == 0

    await vc.destroy_vm(drva["vm_moref"])
    await _wait_status(registered, drva["id"], "failed")
    redeploy = (await client.post(f"{base}/actions/redeploy")).json()
    assert (await registered.wait_task(redeploy["id"]))["status"] == "succeeded"
    again = (await client.get(base)).json()
    assert again["status"] == "running"
    assert again["vm_moref"] != drva["vm_moref"]
    assert (again["name"], again["host_id"]) == (drva["name"], drva["host_id"])
    vm = next(
        vm for vm in (await registered.simulator.state()).vms if vm.moref == again["vm_moref"]
    )
    assert sorted(d.capacity_bytes // 1024**3 for d in vm.disks) == [16, 50]
    history = (await client.get("/api/v1/alarms", params={"type": "drva_down"})).json()["items"]
    assert all(a["cleared_at"] for a in history)
    acknowledged = await client.post(f"/api/v1/alarms/{history[0]['id']}/actions/acknowledge")
    assert acknowledged.json()["acknowledged_by"] == "root"
    await vc.logout()


async def test_one_per_host(registered: Appliance, configured: dict[str, Any]) -> None:
    response = await registered.client.post(
        "/api/v1/drvas", json=_spec(configured, one_per_host=True)
    )
    assert response.status_code == 202
    tasks = response.json()["items"]
    assert len(tasks) == 4
    for task in tasks:
        assert (await registered.wait_task(task["id"]))["status"] == "succeeded"
    drvas = (await registered.client.get("/api/v1/drvas")).json()["items"]
    assert len({d["host_id"] for d in drvas}) == 4


def _endpoint(appliance: Appliance) -> Any:
    from app.adapters.vcenter.port import Endpoint

    spec = appliance.container.platform.topology.vcenter
    return Endpoint(spec.hostname, 443, spec.username, spec.password)


async def test_a_heartbeat_older_than_a_restart_does_not_undo_it(
    registered: Appliance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The monitor looks at the DRVA's VM, a restart finishes meanwhile, then the monitor
    records what it saw: the powered-off look must not mark the restarted DRVA down again."""
    from app.domain.drvas.models import Drva
    from app.domain.drvas.monitor import DrvaMonitor

    prepared = await prepare_site(registered)
    drva_id = prepared["drva"]["id"]
    container = registered.container
    async with container.platform.sessionmaker() as session:
        row = await session.get(Drva, drva_id)
        assert row is not None
        row.status = "stopped"
        await session.commit()
    looked = DrvaMonitor._power_states

    async def look_while_a_restart_finishes(
        monitor: DrvaMonitor, vcenter: Any, drvas: list[Any]
    ) -> dict[str, str | None]:
        seen = await looked(monitor, vcenter, drvas)
        async with container.platform.sessionmaker() as session:
            row = await session.get(Drva, drva_id)
            assert row is not None
            row.status, row.updated_at = "running", container.platform.clock.now()
            await session.commit()
        return dict.fromkeys(seen, "poweredOff")

    monkeypatch.setattr(DrvaMonitor, "_power_states", look_while_a_restart_finishes)
    await container.monitor.check()
    drva = (await registered.client.get(f"/api/v1/drvas/{drva_id}")).json()
    assert drva["status"] == "running"
    alarms = await registered.client.get(
        "/api/v1/alarms", params={"active": "true", "entity_id": drva_id}
    )
    assert alarms.json()["items"] == []
