"""Import and recovery requests against one appliance, with a domain another site left in a local
storage site: the validation and state checks, a regular failover of it, and the reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.adapters.objectstore.local import LocalObjectStore
from app.domain.replication.generator import DiskGenerator, digest
from app.domain.replication.segments import Segment
from app.domain.storage_format.keys import recovery_point_key, vm_config_key
from tests.conftest import Appliance
from tests.domain.conftest import prepare_site

FOREIGN = "pd-foreign0001"
CONTAINER = f"jetdr-{FOREIGN}"
GIB = 1024**3
# The one disk of the one VM the other site protects in it.
FOREIGN_DISK = DiskGenerator.from_profile("vm-far", 2000, 10 * GIB, 5, 4)


async def leave_foreign_domain(path: Path) -> None:
    """What another site's appliance leaves in the container of a domain it protects: the
    manifest, one VM's configuration, a base segment and a recovery point."""
    store = LocalObjectStore(path)
    await store.create_container(CONTAINER)
    manifest = {
        "format": 1,
        "domain_id": FOREIGN,
        "name": "far-erp",
        "owner_site": "elsewhere",
        "primary_site": "elsewhere",
        "epoch": 1,
        "rpo_target_seconds": 300,
        "priority": 0,
        "pitr": {"enabled": False, "window_days": 3},
    }
    await store.put(CONTAINER, "manifest.json", json.dumps(manifest).encode())
    config = {
        "format": 1,
        "vm_id": "vm-far",
        "name": "far-01",
        "cpu": 2,
        "memory_mb": 4096,
        "guest_os": "otherLinux64Guest",
        "protection_mode": "write_through",
        "disks": [{"key": 2000, "capacity_bytes": 10 * GIB, "write_profile": {"write_iops": 5}}],
    }
    await store.put(CONTAINER, vm_config_key("vm-far"), json.dumps(config).encode())
    base = Segment("base", 1, 100, 100, 1)
    base.add("vm-far", 2000, ((r, s[0], s[1]) for r, s in FOREIGN_DISK.base().items()))
    await store.put(CONTAINER, base.key, base.encode(FOREIGN))
    point = {"epoch": 100, "consistent": True, "generation": 1, "vm_ids": ["vm-far"]}
    await store.put(CONTAINER, recovery_point_key(1, 100), json.dumps(point).encode())


async def recovery_site(appliance: Appliance, tmp_path: Path) -> dict[str, Any]:
    prepared = await prepare_site(appliance)
    site = await appliance.client.post(
        "/api/v1/storage-sites",
        json={"name": "local", "type": "local", "path": str(tmp_path / "store")},
    )
    assert site.status_code == 201, site.text
    return {**prepared, "storage_site_id": site.json()["id"]}


async def settle_settings(appliance: Appliance, prepared: dict[str, Any]) -> None:
    client = appliance.client
    network = (await client.get("/api/v1/networks", params={"name": "dhcp-segment"})).json()
    body = {
        "cluster_id": prepared["cluster"]["id"],
        "datastore_id": prepared["datastore"]["id"],
        "network_id": network["items"][0]["id"],
    }
    assert (await client.put("/api/v1/recovery-settings", json=body)).status_code == 200


async def import_foreign(
    appliance: Appliance, tmp_path: Path, *, settings: bool = True
) -> dict[str, Any]:
    """The foreign domain left in a local store, imported at this (recovery) site; with the
    recovery settings unless told otherwise. Returns the prepared site."""
    await leave_foreign_domain(tmp_path / "store")
    prepared = await recovery_site(appliance, tmp_path)
    if settings:
        await settle_settings(appliance, prepared)
    imported = await appliance.client.post(
        f"/api/v1/protection-domains/{FOREIGN}/actions/import",
        json={"storage_site_id": prepared["storage_site_id"]},
    )
    assert (await appliance.wait_task(imported.json()["id"]))["status"] == "succeeded"
    return prepared


async def test_import_is_validated_and_reads_the_container(
    registered: Appliance, tmp_path: Path
) -> None:
    client = registered.client
    await leave_foreign_domain(tmp_path / "store")
    prepared = await recovery_site(registered, tmp_path)
    path = f"/api/v1/protection-domains/{FOREIGN}/actions/import"
    body = {"storage_site_id": prepared["storage_site_id"]}

    unknown_site = await client.post(path, json={"storage_site_id": "ss-nope"})
    assert unknown_site.status_code == 422
    assert unknown_site.json()["field_errors"][0]["field"] == "storage_site_id"
    mismatch = await client.post(path, json={**body, "domain_id": "pd-other"})
    assert mismatch.status_code == 422
    missing = await client.post("/api/v1/protection-domains/pd-absent/actions/import", json=body)
    assert missing.status_code == 422
    assert "scan-domains" in missing.json()["message"]
    assert (await client.get(f"/api/v1/protection-domains/{FOREIGN}")).status_code == 404

    done = await registered.wait_task((await client.post(path, json=body)).json()["id"])
    assert done["status"] == "succeeded", done
    domain = (await client.get(f"/api/v1/protection-domains/{FOREIGN}")).json()
    assert (domain["mode"], domain["owner_site"], domain["primary_site"], domain["vms"]) == (
        "imported",
        "elsewhere",
        "elsewhere",
        1,
    )
    vms = (await client.get(f"/api/v1/protection-domains/{FOREIGN}/vms")).json()["items"]
    assert [(vm["name"], vm["vm_id"], vm["replica_key"], vm["status"]) for vm in vms] == [
        ("far-01", None, "vm-far", "recoverable")
    ]
    points = (await client.get(f"/api/v1/protection-domains/{FOREIGN}/recovery-points")).json()
    assert [p["consistent"] for p in points["items"]] == [True]
    again = await client.post(path, json=body)
    assert again.status_code == 409


async def test_recovery_requests_refused_in_the_wrong_state(
    registered: Appliance, tmp_path: Path
) -> None:
    client = registered.client
    prepared = await import_foreign(registered, tmp_path, settings=False)
    domain = f"/api/v1/protection-domains/{FOREIGN}"

    no_settings = await client.post(f"{domain}/actions/failover", json={})
    assert no_settings.status_code == 409
    assert "recovery settings" in no_settings.json()["message"]
    await settle_settings(registered, prepared)
    no_peer = await client.post(f"{domain}/actions/failover", json={"type": "planned"})
    assert no_peer.status_code == 422
    assert "peer" in no_peer.json()["message"]
    bad_point = await client.post(f"{domain}/actions/failover", json={"recovery_point_id": "rp-x"})
    assert bad_point.status_code == 422
    bad_runbook = await client.post(f"{domain}/actions/failover", json={"runbook_id": "rb-x"})
    assert bad_runbook.status_code == 422
    bad_type = await client.post(f"{domain}/actions/failover", json={"type": "sideways"})
    assert bad_type.status_code == 422
    for action, expected in (
        ("failback", "primary site"),
        ("complete-failover", "continuous"),
        ("resume-failback", "paused"),
        ("complete-failback", "continuous"),
    ):
        refused = await client.post(f"{domain}/actions/{action}", json={})
        assert refused.status_code == 409, (action, refused.text)
        assert expected in refused.json()["message"], action
    refused = await client.post(f"{domain}/actions/stop-test-failover", json={"success": True})
    assert refused.status_code == 409
    owned_elsewhere = await client.post(f"{domain}/vms", json={"vm_ids": ["vm-x"]})
    assert owned_elsewhere.status_code == 409
    assert (await client.post(f"{domain}/actions/start-protection")).status_code == 409
    handover = await client.post(f"{domain}/actions/release", json={"to_site": "x"})
    assert handover.status_code == 409
    assert (await client.get("/api/v1/recovery-reports/rr-nope")).status_code == 404
    assert (await client.get("/api/v1/protection-domains/pd-nope/runbook")).status_code == 404
    # Deleting a domain another site owns forgets it here and leaves its data alone.
    deleted = await client.delete(domain)
    assert (await registered.wait_task(deleted.json()["id"]))["status"] == "succeeded"
    assert (await client.get(domain)).status_code == 404
    assert (tmp_path / "store" / CONTAINER / "manifest.json").exists()


async def test_forced_failover_of_an_imported_domain(registered: Appliance, tmp_path: Path) -> None:
    client = registered.client
    await import_foreign(registered, tmp_path)
    domain = f"/api/v1/protection-domains/{FOREIGN}"

    task = await registered.wait_task(
        (await client.post(f"{domain}/actions/failover", json={"type": "forced"})).json()["id"]
    )
    assert task["status"] == "succeeded", task
    report = (await client.get("/api/v1/recovery-reports", params={"kind": "failover"})).json()
    [entry] = report["items"]
    assert (entry["type"], entry["source_site"], entry["status"]) == (
        "forced",
        "elsewhere",
        "succeeded",
    )
    [vm] = entry["vms"]
    recovered = await client.get(
        f"/_emulator/vms/{vm['vm_id']}/disk-digest", params={"at": vm["recovered_at"]}
    )
    assert recovered.json()["digest"] == digest({2000: FOREIGN_DISK.base()})
    assert (await client.get(domain)).json()["mode"] == "running_in_failover"
    manifest = json.loads((tmp_path / "store" / CONTAINER / "manifest.json").read_bytes())
    local = (await client.get("/api/v1/status")).json()["site"]["id"]
    assert (manifest["owner_site"], manifest["owner_site_name"], manifest["epoch"]) == (
        local,
        "protected",
        2,
    )
    assert manifest["format"] == 2 and manifest["primary_site"] == "elsewhere"

    stop = await client.post(f"{domain}/actions/stop-protection")
    assert (await registered.wait_task(stop.json()["id"]))["status"] == "succeeded"
    assert (await client.get(domain)).json()["mode"] == "replication_disabled"
    same_site = await client.post(f"{domain}/actions/release", json={"to_site": local})
    assert same_site.status_code == 422


async def test_a_test_failover_during_a_continuous_failover_keeps_its_rocva(
    registered: Appliance, tmp_path: Path
) -> None:
    client = registered.client
    await import_foreign(registered, tmp_path)
    domain = f"/api/v1/protection-domains/{FOREIGN}"

    async def act(path: str, body: dict[str, Any]) -> None:
        task = await registered.wait_task((await client.post(path, json=body)).json()["id"])
        assert task["status"] == "succeeded", task

    async def names() -> set[str]:
        vms = (await client.get("/api/v1/vms", params={"limit": 1000})).json()["items"]
        return {vm["name"] for vm in vms}

    await act(f"{domain}/actions/failover", {"type": "forced", "continuous": True})
    assert "jss-rocva-far-erp" in await names()
    await act(f"{domain}/actions/test-failover", {})
    assert {"jss-rocva-far-erp", "jss-tvm-far-01"} <= await names()
    await act(f"{domain}/actions/stop-test-failover", {"success": True})
    left = await names()
    assert "jss-rocva-far-erp" in left and "jss-rocva-far-erp-test" not in left
    assert (await client.get(domain)).json()["mode"] == "continuous_failover"
