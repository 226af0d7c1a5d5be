from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import yaml
from sqlalchemy import text

from app.adapters.vcenter.topology import BUILTIN_DIR
from app.domain.plugin.package import PLUGIN_KEY
from app.settings import Settings
from tests.conftest import VCENTER, Appliance, start_appliance


async def test_registration_discovers_the_protected_topology(registered: Appliance) -> None:
    client = registered.client
    vcenter = (await client.get("/api/v1/vcenters")).json()["items"][0]
    assert vcenter["status"] == "registered"
    assert vcenter["version"] == "7.0.3" and vcenter["build"] == "19234570"
    assert vcenter["plugin"] == {"key": PLUGIN_KEY, "version": "5.0.4", "registered": True}
    assert "password" not in vcenter and "password_encrypted" not in vcenter
    clusters = (await client.get("/api/v1/clusters")).json()["items"]
    assert [c["name"] for c in clusters] == ["Cluster-1"]
    cluster = (await client.get(f"/api/v1/clusters/{clusters[0]['id']}")).json()
    assert cluster["host_count"] == 4
    assert cluster["status"] == "unconfigured"
    assert {h["name"] for h in cluster["hosts"]} == {"esx-01", "esx-02", "esx-03", "esx-04"}
    assert all(h["cim_enabled"] and h["esxi_build"] == "19193900" for h in cluster["hosts"])
    datastores = (
        await client.get("/api/v1/datastores", params={"cluster_id": cluster["id"]})
    ).json()
    assert {d["name"] for d in datastores["items"]} == {"vsanDatastore", "ds-nfs-01"}
    networks = (await client.get("/api/v1/networks")).json()["items"]
    assert {n["name"]: n["dhcp"] for n in networks} == {"VM Network": False, "dhcp-segment": True}
    vms = (await client.get("/api/v1/vms", params={"cluster_id": cluster["id"]})).json()
    assert vms["_meta"]["total"] == 20
    db = (await client.get("/api/v1/vms", params={"name": "db-01"})).json()["items"][0]
    assert len(db["disks"]) == 3 and db["disks"][1]["write_profile"]["name"] == "oltp"
    extension = (await registered.simulator.state()).extensions[PLUGIN_KEY]
    assert extension.server_url == "https://msa.test:8443/plugin/plugin.json"


async def test_password_is_encrypted_at_rest(registered: Appliance) -> None:
    async with registered.container.platform.engine.connect() as connection:
        stored = (
            await connection.execute(text("SELECT password_encrypted FROM vcenter"))
        ).scalar_one()
    assert VCENTER["password"] not in stored
    assert registered.container.platform.secrets.decrypt(stored) == VCENTER["password"]


async def test_wrong_credentials_fail_with_vcenter_auth_failed(appliance: Appliance) -> None:
    task = await appliance.register_vcenter(password="not-it")
    assert task["status"] == "failed"
    assert task["error"]["error_code"] == "vcenter_auth_failed"
    assert task["steps"][0] == {"name": "connect", "status": "failed"}
    assert task["steps"][1]["status"] == "skipped"
    assert (await appliance.client.get("/api/v1/vcenters")).json()["_meta"]["total"] == 0
    retry = await appliance.register_vcenter()
    assert retry["status"] == "succeeded"


async def test_unknown_hostname_fails_with_vcenter_unreachable(appliance: Appliance) -> None:
    task = await appliance.register_vcenter(hostname="vcsa-99.nowhere.local")
    assert task["status"] == "failed"
    assert task["error"]["error_code"] == "vcenter_unreachable"
    events = (
        await appliance.client.get(
            "/api/v1/events", params={"action": "vcenter.registration_failed"}
        )
    ).json()
    assert events["_meta"]["total"] == 1


async def test_second_registration_is_409(registered: Appliance) -> None:
    again = await registered.client.post("/api/v1/vcenters", json=VCENTER)
    assert again.status_code == 409
    assert again.json()["error_code"] == "already_registered"


async def test_concurrent_registrations_exactly_one_wins(appliance: Appliance) -> None:
    responses = await asyncio.gather(
        *(appliance.client.post("/api/v1/vcenters", json=VCENTER) for _ in range(5))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [202, 409, 409, 409, 409]


async def test_concurrent_actions_on_one_vcenter_exactly_one_wins(registered: Appliance) -> None:
    client = registered.client
    vcenter_id = (await client.get("/api/v1/vcenters")).json()["items"][0]["id"]
    path = f"/api/v1/vcenters/{vcenter_id}/actions/refresh-inventory"
    # The winner's task is held, so it is still running when the others arrive (a refresh of
    # the simulated vCenter can otherwise finish between two of them, and the next one rightly
    # starts).
    hold = await client.post(
        "/_emulator/faults",
        json={"target": "refresh_inventory.discover_inventory", "kind": "hang"},
    )
    assert hold.status_code == 201, hold.text
    responses = await asyncio.gather(*(client.post(path) for _ in range(4)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [202, 409, 409, 409]
    refused = next(r for r in responses if r.status_code == 409).json()
    assert refused["error_code"] == "invalid_state"
    assert refused["details"][0]["active_task_id"]
    assert (await client.delete(f"/_emulator/faults/{hold.json()['id']}")).status_code == 204
    winner = next(r for r in responses if r.status_code == 202).json()
    assert (await registered.wait_task(winner["id"]))["status"] == "succeeded"


async def test_refresh_keeps_ids_stable(registered: Appliance) -> None:
    client = registered.client
    before = {v["name"]: v["id"] for v in (await client.get("/api/v1/vms")).json()["items"]}
    vcenter_id = (await client.get("/api/v1/vcenters")).json()["items"][0]["id"]
    task = (await client.post(f"/api/v1/vcenters/{vcenter_id}/actions/refresh-inventory")).json()
    done = await registered.wait_task(task["id"])
    assert done["status"] == "succeeded" and done["result"]["inventory"]["vms"] == 20
    after = {v["name"]: v["id"] for v in (await client.get("/api/v1/vms")).json()["items"]}
    assert after == before


async def test_unregister_removes_plugin_and_inventory(registered: Appliance) -> None:
    client = registered.client
    vcenter_id = (await client.get("/api/v1/vcenters")).json()["items"][0]["id"]
    response = await client.delete(f"/api/v1/vcenters/{vcenter_id}")
    assert response.status_code == 202
    assert response.json()["type"] == "unregister_vcenter"
    assert (await registered.wait_task(response.json()["id"]))["status"] == "succeeded"
    assert (await client.get(f"/api/v1/vcenters/{vcenter_id}")).status_code == 404
    assert (await client.get("/api/v1/clusters")).json()["_meta"]["total"] == 0
    assert (await client.get("/api/v1/vms")).json()["_meta"]["total"] == 0
    assert PLUGIN_KEY not in (await registered.simulator.state()).extensions


async def test_unregister_refuses_while_a_cluster_is_configured(registered: Appliance) -> None:
    client = registered.client
    vcenter_id = (await client.get("/api/v1/vcenters")).json()["items"][0]["id"]
    async with registered.container.platform.engine.begin() as connection:
        await connection.execute(text("UPDATE cluster SET status = 'configured'"))
    refused = await client.delete(f"/api/v1/vcenters/{vcenter_id}")
    assert refused.status_code == 409
    assert refused.json()["error_code"] == "invalid_state"
    assert refused.json()["details"][1]["cluster"] == "Cluster-1"
    forced = await client.delete(f"/api/v1/vcenters/{vcenter_id}", params={"force": "true"})
    assert forced.status_code == 202
    assert (await registered.wait_task(forced.json()["id"]))["status"] == "succeeded"


async def test_plugin_unregister_and_register_again(registered: Appliance) -> None:
    client = registered.client
    vcenter_id = (await client.get("/api/v1/vcenters")).json()["items"][0]["id"]
    base = f"/api/v1/vcenters/{vcenter_id}/actions"
    task = (await client.post(f"{base}/unregister-plugin")).json()
    assert (await registered.wait_task(task["id"]))["status"] == "succeeded"
    vcenter = (await client.get(f"/api/v1/vcenters/{vcenter_id}")).json()
    assert vcenter["plugin"]["registered"] is False
    assert PLUGIN_KEY not in (await registered.simulator.state()).extensions
    twice = await client.post(f"{base}/unregister-plugin")
    assert twice.status_code == 409
    task = (await client.post(f"{base}/register-plugin")).json()
    assert (await registered.wait_task(task["id"]))["status"] == "succeeded"
    assert PLUGIN_KEY in (await registered.simulator.state()).extensions


def _topology(tmp_path: Path, **vcenter: object) -> str:
    spec = yaml.safe_load((BUILTIN_DIR / "protected.yaml").read_text())
    spec["vcenter"].update(vcenter)
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


async def test_old_vcenter_is_refused(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(topology=_topology(tmp_path, version="6.5.0", build="7312210"))
    async with start_appliance(settings) as appliance:
        task = await appliance.register_vcenter()
        assert task["error"]["error_code"] == "vcenter_version_unsupported"
        assert "6.7" in task["error"]["message"]


async def test_clock_skew_is_refused(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(topology=_topology(tmp_path, clock_skew_seconds=900))
    async with start_appliance(settings) as appliance:
        task = await appliance.register_vcenter()
        assert task["error"]["error_code"] == "clock_skew"
        assert "+90" in task["error"]["message"]
        # An appliance whose own clock runs as far ahead as vCenter's agrees with it.
        patched = await appliance.client.patch("/api/v1/appliance", json={"time_skew_seconds": 900})
        assert patched.status_code == 200, patched.text
        assert patched.json()["time_skew_seconds"] == 900
        again = await appliance.register_vcenter()
        assert again["status"] == "succeeded", again


async def test_the_appliance_clock_skew_and_ip_are_settings(appliance: Appliance) -> None:
    client = appliance.client
    patched = await client.patch(
        "/api/v1/appliance", json={"time_skew_seconds": -600, "ip": "192.0.2.10"}
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["ip"], patched.json()["time_skew_seconds"]) == ("192.0.2.10", -600)
    task = await appliance.register_vcenter()
    assert task["error"]["error_code"] == "clock_skew"
    for bad in ({"ip": "not-an-ip"}, {"time_skew_seconds": 10**9}, {"ip": "1.2.3.4\x00"}):
        refused = await client.patch("/api/v1/appliance", json=bad)
        assert refused.status_code == 422, (bad, refused.text)
    await client.patch("/api/v1/appliance", json={"time_skew_seconds": 0})
    assert (await appliance.register_vcenter())["status"] == "succeeded"


async def test_recovery_topology(make_settings: Callable[..., Settings]) -> None:
    async with start_appliance(make_settings(topology="recovery")) as appliance:
        task = await appliance.register_vcenter(hostname="vcsa-01.recovery.local")
        assert task["status"] == "succeeded"
        clusters = (await appliance.client.get("/api/v1/clusters")).json()["items"]
        assert [(c["name"], c["host_count"]) for c in clusters] == [("Pilot-1", 3)]
        assert (await appliance.client.get("/api/v1/vms")).json()["_meta"]["total"] == 0
