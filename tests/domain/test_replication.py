"""Continuous replication on the virtual clock: initial sync, segments and recovery points in
the store, RPO, an object-store outage (backpressure, bitmap, alarms, resync), stop/start,
PITR garbage collection, and source and replica digests that agree."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
from sqlalchemy import delete

from app.domain.protection_domains.models import RecoveryPoint, recovery_point_id
from app.domain.storage_format.epochs import epoch_at
from tests.conftest import Appliance
from tests.domain.conftest import prepare_site
from tests.peers import objectstores

# web-01, web-02, app-03 write 0.66 MB/s each, cache-01 3.3 MB/s, mq-01 9.8 MB/s: 15.07 MB/s,
# which fills a 10 GiB replication log in about 712 s once nothing is shipped.
FIVE_VMS = ["web-01", "web-02", "cache-01", "mq-01", "app-03"]


async def manual_clock(client: httpx.AsyncClient) -> None:
    response = await client.put("/_emulator/clock", json={"mode": "manual"})
    assert response.status_code == 200, response.text


async def advance(client: httpx.AsyncClient, seconds: float) -> None:
    response = await client.post("/_emulator/clock/advance", json={"seconds": seconds})
    assert response.status_code == 200, response.text


async def vm_ids(client: httpx.AsyncClient, names: list[str]) -> list[str]:
    ids = []
    for name in names:
        found = (await client.get("/api/v1/vms", params={"name": name})).json()["items"]
        ids.append(found[0]["id"])
    return ids


async def create_domain(
    appliance: Appliance, prepared: dict[str, Any], site_id: str, **extra: Any
) -> dict[str, Any]:
    body = {
        "name": extra.pop("name", "erp"),
        "storage_site_id": site_id,
        "drva_id": prepared["drva"]["id"],
        "replication_log_volume_id": prepared["volume_id"],
        **extra,
    }
    task = await appliance.client.post("/api/v1/protection-domains", json=body)
    assert task.status_code == 202, task.text
    done = await appliance.wait_task(task.json()["id"])
    assert done["status"] == "succeeded", done
    domain: dict[str, Any] = (
        await appliance.client.get(f"/api/v1/protection-domains/{done['entity']['id']}")
    ).json()
    return domain


async def protect(appliance: Appliance, domain_id: str, names: list[str]) -> list[str]:
    client = appliance.client
    ids = await vm_ids(client, names)
    added = await client.post(f"/api/v1/protection-domains/{domain_id}/vms", json={"vm_ids": ids})
    assert added.status_code == 202, added.text
    assert (await appliance.wait_task(added.json()["id"]))["status"] == "succeeded"
    started = await client.post(f"/api/v1/protection-domains/{domain_id}/actions/start-protection")
    assert started.status_code == 202, started.text
    assert (await appliance.wait_task(started.json()["id"]))["status"] == "succeeded"
    return ids


async def domain_of(client: httpx.AsyncClient, domain_id: str) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get(f"/api/v1/protection-domains/{domain_id}")).json()
    return body


async def statistics(client: httpx.AsyncClient, domain_id: str) -> dict[str, Any]:
    body: dict[str, Any] = (
        await client.get(f"/api/v1/protection-domains/{domain_id}/statistics")
    ).json()
    return body


async def active_alarms(client: httpx.AsyncClient, entity_id: str) -> set[str]:
    alarms = (
        await client.get("/api/v1/alarms", params={"active": "true", "entity_id": entity_id})
    ).json()["items"]
    return {alarm["type"] for alarm in alarms}


async def assert_replica_matches_source(
    client: httpx.AsyncClient, ids: list[str], recovery_point_id: str | None = None
) -> str:
    """Every VM rebuilt from the store equals its source at the recovery point."""
    at = ""
    for vm_id in ids:
        params = {"recovery_point_id": recovery_point_id} if recovery_point_id else {}
        replica = await client.get(f"/_emulator/vms/{vm_id}/replica-digest", params=params)
        assert replica.status_code == 200, replica.text
        at = replica.json()["at"]
        source = await client.get(f"/_emulator/vms/{vm_id}/disk-digest", params={"at": at})
        assert source.status_code == 200, source.text
        assert replica.json()["digest"] == source.json()["digest"], vm_id
        assert replica.json()["source"] == "object_store"
    return at


async def crash_drva(client: httpx.AsyncClient, drva_id: str) -> None:
    """A `drva_crash` fault, and the clock moved until the heartbeat sees the DRVA stopped."""
    crash = await client.post("/_emulator/faults", json={"target": drva_id, "kind": "drva_crash"})
    assert crash.status_code == 201, crash.text
    assert crash.json()["hits"] == 1
    for _ in range(10):  # powering the VM off takes virtual time, the heartbeat sees it
        await advance(client, 30)
        if (await client.get(f"/api/v1/drvas/{drva_id}")).json()["status"] == "stopped":
            return
    raise AssertionError(f"DRVA {drva_id} was not seen stopped")


async def restart_drva(client: httpx.AsyncClient, drva_id: str) -> None:
    restart = await client.post(f"/api/v1/drvas/{drva_id}/actions/restart")
    assert restart.status_code == 202, restart.text
    for _ in range(200):  # the restart takes virtual time: move the clock while it runs
        task = (await client.get(f"/api/v1/tasks/{restart.json()['id']}")).json()
        if task["status"] in {"succeeded", "failed", "cancelled"}:
            break
        await client.post("/_emulator/clock/advance", json={"seconds": 5, "settle": False})
    assert task["status"] == "succeeded", task


async def local_site(
    appliance: Appliance, tmp_path: Any
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The site's plumbing, a local storage site, and the clock stopped: (prepared, site id,
    the storage site's spec)."""
    prepared = await prepare_site(appliance)
    spec = {"name": "local", "type": "local", "path": str(tmp_path / "store")}
    site = await appliance.client.post("/api/v1/storage-sites", json=spec)
    assert site.status_code == 201, site.text
    await manual_clock(appliance.client)
    return prepared, site.json()["id"], spec


async def test_replicates_through_an_outage_and_resyncs(
    registered: Appliance, site_spec: dict[str, Any], all_logs: list[str]
) -> None:
    client = registered.client
    prepared = await prepare_site(registered)
    site = await client.post("/api/v1/storage-sites", json=site_spec)
    assert site.status_code == 201, site.text
    site_id = site.json()["id"]
    await manual_clock(client)
    domain = await create_domain(registered, prepared, site_id)
    domain_id = domain["id"]
    ids = await protect(registered, domain_id, FIVE_VMS)

    vms = (await client.get(f"/api/v1/protection-domains/{domain_id}/vms")).json()["items"]
    assert {vm["status"] for vm in vms} == {"initial_sync"}
    assert (await domain_of(client, domain_id))["mode"] == "protecting"

    # 240 GB of disks at 125 MB/s, less what the log takes: about 35 virtual minutes.
    for _ in range(9):
        await advance(client, 300)
    vms = (await client.get(f"/api/v1/protection-domains/{domain_id}/vms")).json()["items"]
    assert {vm["status"] for vm in vms} == {"protected"}, vms
    assert all(vm["rpo_seconds"] is not None and vm["rpo_seconds"] < 300 for vm in vms)
    state = await domain_of(client, domain_id)
    assert (state["health"], state["vms"]) == ("ok", 5)
    assert state["rpo_seconds"] is not None and state["rpo_seconds"] < 300
    points = (await client.get(f"/api/v1/protection-domains/{domain_id}/recovery-points")).json()
    assert len(points["items"]) == 1 and points["items"][0]["consistent"] is True
    store = objectstores.store_for(site_spec)
    segments = await store.list(domain["container"], "segments/")
    assert len(segments) > 30
    assert len(await store.list(domain["container"], "recovery-points/")) > 1
    assert len(await store.list(domain["container"], "vms/")) == 5
    steady = await statistics(client, domain_id)
    assert steady["replication_state"] == "replicating"
    assert 14.0 < steady["incoming_mbps"] < 16.0, steady
    assert steady["log_usage_percent"] < 5
    assert steady["put_latency_ms"] is not None
    # Each sample carries the RPO at its end (what the dashboard plots): points are taken
    # every few virtual seconds, so it stays within the domain's target.
    recent = [s["rpo_seconds"] for s in steady["samples"][-10:]]
    assert all(r is not None and 0 <= r <= domain["rpo_target_seconds"] for r in recent), recent
    await assert_replica_matches_source(client, ids)

    # The store goes away: the log fills, backpressure, then bitmap mode.
    fault = await client.post(
        "/_emulator/faults", json={"target": site_id, "kind": "objectstore_outage"}
    )
    assert fault.status_code == 201, fault.text
    health, usage = [], []
    for _ in range(20):
        await advance(client, 60)
        health.append((await domain_of(client, domain_id))["health"])
        usage.append((await statistics(client, domain_id))["log_usage_percent"])
    assert usage[:5] == sorted(usage[:5]) and usage[4] > usage[0] > 0, usage
    assert "backpressure" in health and "bitmap" in health, health
    assert health.index("backpressure") < health.index("bitmap")
    assert health[-1] == "bitmap"
    assert await active_alarms(client, domain_id) >= {"bitmap", "rpo_violation"}
    outage = await domain_of(client, domain_id)
    assert outage["rpo_seconds"] > 1200
    stats = await statistics(client, domain_id)
    assert stats["bitmap_percent"] > 0 and stats["backpressure_percent"] > 0
    assert "unreachable" in (stats["last_error"] or "")

    # The store is back: resync, replication, alarms cleared, the RPO under its target.
    assert (await client.delete(f"/_emulator/faults/{fault.json()['id']}")).status_code == 204
    for _ in range(6):
        await advance(client, 60)
    healed = await domain_of(client, domain_id)
    assert healed["health"] == "ok", healed
    assert healed["rpo_seconds"] < 300
    assert await active_alarms(client, domain_id) == set()
    assert (await statistics(client, domain_id))["replication_state"] == "replicating"
    await assert_replica_matches_source(client, ids)

    secret = site_spec.get("access_key")
    if secret:
        assert all_logs and not [line for line in all_logs if secret in line]
        for path in (
            f"/api/v1/storage-sites/{site_id}",
            f"/api/v1/protection-domains/{domain_id}/statistics",
            "/api/v1/events?limit=200",
            "/api/v1/alarms",
        ):
            assert secret not in (await client.get(path)).text, path


async def test_stop_protection_disables_replication_until_started_again(
    registered: Appliance, tmp_path: Any
) -> None:
    client = registered.client
    prepared, site_id, _spec = await local_site(registered, tmp_path)
    domain = await create_domain(registered, prepared, site_id, rpo_target_seconds=120)
    domain_id = domain["id"]
    await protect(registered, domain_id, ["web-01", "web-02"])
    for _ in range(4):
        await advance(client, 300)
    assert (await domain_of(client, domain_id))["health"] == "ok"

    stopped = await client.post(f"/api/v1/protection-domains/{domain_id}/actions/stop-protection")
    assert (await registered.wait_task(stopped.json()["id"]))["status"] == "succeeded"
    state = await domain_of(client, domain_id)
    assert (state["mode"], state["replication_enabled"]) == ("replication_disabled", False)
    assert "replication_disabled" in await active_alarms(client, domain_id)
    again = await client.post(f"/api/v1/protection-domains/{domain_id}/actions/stop-protection")
    assert again.status_code == 409
    # Stopped, the domain may be deleted: its container and replication state go with it.
    deleted = await client.delete(f"/api/v1/protection-domains/{domain_id}")
    assert deleted.status_code == 202
    assert (await registered.wait_task(deleted.json()["id"]))["status"] == "succeeded"
    assert (await client.get(f"/api/v1/protection-domains/{domain_id}")).status_code == 404
    assert not (tmp_path / "store" / domain["container"]).exists()
    assert (
        await client.get(f"/_emulator/vms/{(await vm_ids(client, ['web-01']))[0]}/disk-digest")
    ).status_code == 404


async def test_restart_after_stop_resyncs_the_changes(registered: Appliance, tmp_path: Any) -> None:
    client = registered.client
    prepared, site_id, _spec = await local_site(registered, tmp_path)
    domain = await create_domain(registered, prepared, site_id, rpo_target_seconds=120)
    domain_id = domain["id"]
    ids = await protect(registered, domain_id, ["web-01", "web-02"])
    for _ in range(4):
        await advance(client, 300)
    stopped = await client.post(f"/api/v1/protection-domains/{domain_id}/actions/stop-protection")
    await registered.wait_task(stopped.json()["id"])
    before = (await statistics(client, domain_id))["bytes_out"]
    await advance(client, 600)
    idle = await statistics(client, domain_id)
    assert (idle["replication_state"], idle["bytes_out"]) == ("stopped", before)
    grown = await domain_of(client, domain_id)
    assert grown["rpo_seconds"] > 600 and grown["health"] == "rpo_violation"
    assert {"replication_disabled", "rpo_violation"} <= await active_alarms(client, domain_id)

    started = await client.post(f"/api/v1/protection-domains/{domain_id}/actions/start-protection")
    assert (await registered.wait_task(started.json()["id"]))["status"] == "succeeded"
    assert "replication_disabled" not in await active_alarms(client, domain_id)
    for _ in range(3):
        await advance(client, 60)
    state = await domain_of(client, domain_id)
    assert (state["mode"], state["health"]) == ("protecting", "ok"), state
    assert state["rpo_seconds"] < 120
    assert await active_alarms(client, domain_id) == set()
    await assert_replica_matches_source(client, ids)


async def test_pitr_keeps_the_window_and_compacts_older_segments(
    registered: Appliance, tmp_path: Any
) -> None:
    client = registered.client
    prepared, site_id, spec = await local_site(registered, tmp_path)
    domain = await create_domain(
        registered, prepared, site_id, pitr={"enabled": True, "window_days": 1}
    )
    domain_id = domain["id"]
    ids = await protect(registered, domain_id, ["web-01", "dc-01"])
    await advance(client, 900)
    first = (await client.get(f"/api/v1/protection-domains/{domain_id}/recovery-points")).json()
    oldest_kept = first["items"][-1]
    for _ in range(6):
        await advance(client, 4.5 * 3600)

    now = dt.datetime.fromisoformat((await client.get("/_emulator/clock")).json()["now"])
    points = (await client.get(f"/api/v1/protection-domains/{domain_id}/recovery-points")).json()[
        "items"
    ]
    stamps = [dt.datetime.fromisoformat(p["timestamp"]) for p in points]
    assert stamps == sorted(stamps, reverse=True)
    assert all(now - stamp <= dt.timedelta(days=1) for stamp in stamps)
    assert now - stamps[-1] > dt.timedelta(hours=22)
    assert oldest_kept["id"] not in {p["id"] for p in points}
    window = (await client.get(f"/api/v1/protection-domains/{domain_id}/pitr")).json()
    assert (window["window_start"], window["window_end"], window["points"]) == (
        points[-1]["timestamp"],
        points[0]["timestamp"],
        len(points),
    )
    # No estimate was given; what the two VMs write projects the window's storage.
    assert window["estimated_data_rate_iops"] is None and window["estimated_storage_gb"] is None
    assert window["estimate_covers_observed"] is None
    assert window["observed_data_rate_iops"] > 0 and window["projected_storage_gb"] > 0

    store = objectstores.store_for(spec)
    container = domain["container"]
    assert len(await store.list(container, "checkpoints/")) == 1
    cutoff = int((now - dt.timedelta(days=1, hours=2)).timestamp() // 10)
    ends = [
        int(key.split("/")[2].split("-")[1]) for key in await store.list(container, "segments/")
    ]
    assert ends and min(ends) >= cutoff
    # The oldest point still in the window and the newest both rebuild exactly.
    await assert_replica_matches_source(client, ids, points[-1]["id"])
    await assert_replica_matches_source(client, ids, points[0]["id"])


async def test_backpressure_alarm_when_the_drva_cannot_keep_up(
    make_settings: Any, tmp_path: Any
) -> None:
    from tests.conftest import start_appliance

    # 1.5 MB/s of DRVA bandwidth against 3.93 MB/s of writes: the 10 GiB log fills in about
    # 74 minutes and stays above 90 % for about seven before it is full.
    settings = make_settings(replication={"drva_bandwidth_mbps": 12})
    async with start_appliance(settings) as appliance:
        client = appliance.client
        await appliance.register_vcenter()
        prepared, site_id, _spec = await local_site(appliance, tmp_path)
        domain = await create_domain(appliance, prepared, site_id)
        domain_id = domain["id"]
        await protect(appliance, domain_id, ["web-01", "cache-01"])
        for _ in range(13):
            await advance(client, 300)
        assert (await domain_of(client, domain_id))["health"] == "ok"
        seen: list[tuple[str, set[str]]] = []
        for _ in range(14):
            await advance(client, 60)
            state = await domain_of(client, domain_id)
            seen.append((state["health"], await active_alarms(client, domain_id)))
        healths = [health for health, _ in seen]
        assert "backpressure" in healths and "bitmap" in healths, healths
        assert any(
            "backpressure" in alarms for health, alarms in seen if health == "backpressure"
        ), seen
        after = [alarms for health, alarms in seen if health == "bitmap"]
        assert "backpressure" not in after[-1]


async def test_protection_requests_are_validated(registered: Appliance, tmp_path: Any) -> None:
    client = registered.client
    prepared, site_id, _spec = await local_site(registered, tmp_path)
    domain = await create_domain(registered, prepared, site_id)
    other = await create_domain(registered, prepared, site_id, name="other")
    base = f"/api/v1/protection-domains/{domain['id']}"
    web = await vm_ids(client, ["web-01"])

    start_empty = await client.post(f"{base}/actions/start-protection")
    assert start_empty.status_code == 409
    assert "no VMs" in start_empty.json()["message"]
    assert (await client.post(f"{base}/actions/stop-protection")).status_code == 409
    unknown = await client.post(f"{base}/vms", json={"vm_ids": ["vm-nope"]})
    assert unknown.status_code == 422
    assert unknown.json()["field_errors"][0]["field"] == "vm_ids"
    iscsi = await client.post(
        f"{base}/vms", json={"vm_ids": web, "protection_mode": "write_back_iscsi"}
    )
    assert iscsi.status_code == 422
    assert "iSCSI" in iscsi.json()["message"]
    bad_mode = await client.post(f"{base}/vms", json={"vm_ids": web, "protection_mode": "fast"})
    assert bad_mode.status_code == 422
    assert (await client.post(f"{base}/vms", json={"vm_ids": []})).status_code == 422

    await protect(registered, domain["id"], ["web-01"])
    twice = await client.post(f"/api/v1/protection-domains/{other['id']}/vms", json={"vm_ids": web})
    assert twice.status_code == 409
    assert twice.json()["error_code"] == "already_protected"
    assert (await client.post(f"{base}/actions/start-protection")).status_code == 409
    cluster_id = prepared["cluster"]["id"]
    in_use = await client.post(
        f"/api/v1/clusters/{cluster_id}/actions/unconfigure",
        json={"allow_maintenance_mode": True},
    )
    assert in_use.status_code == 409
    assert "erp" in in_use.json()["message"]
    deleting = await client.delete(base)
    assert deleting.status_code == 409
    assert (await client.delete(f"{base}/vms/vm-nope")).status_code == 404
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=400)).isoformat()
    ahead = await client.get(f"/_emulator/vms/{web[0]}/disk-digest", params={"at": future})
    assert ahead.status_code == 422
    unprotected = await vm_ids(client, ["web-02"])
    assert (await client.get(f"/_emulator/vms/{unprotected[0]}/disk-digest")).status_code == 404
    no_point = await client.get(f"/_emulator/vms/{web[0]}/replica-digest")
    assert no_point.status_code == 404

    removed = await client.delete(f"{base}/vms/{web[0]}")
    assert removed.status_code == 202
    assert (await registered.wait_task(removed.json()["id"]))["status"] == "succeeded"
    assert (await domain_of(client, domain["id"]))["vms"] == 0
    moved = await client.post(f"/api/v1/protection-domains/{other['id']}/vms", json={"vm_ids": web})
    assert moved.status_code == 202


async def test_outage_fault_rules_are_validated(appliance: Appliance) -> None:
    client = appliance.client
    wrong = await client.post("/_emulator/faults", json={"target": "ss-1", "kind": "error"})
    assert wrong.status_code == 422
    ok = await client.post("/_emulator/faults", json={"target": "*", "kind": "objectstore_outage"})
    assert ok.status_code == 201
    assert appliance.container.platform.faults.storage_outage("ss-anything")


async def test_a_stopped_azurite_is_an_outage_and_its_return_a_resync(
    registered: Appliance, tmp_path: Any
) -> None:
    client = registered.client
    prepared = await prepare_site(registered)
    port = objectstores.free_port()
    workdir = tmp_path / "azurite"
    with objectstores.azurite(workdir, port) as peer:
        spec = {
            "name": "blob",
            "type": "azure_blob",
            "endpoint": peer.endpoint,
            "account_name": peer.account,
            "access_key": peer.key,
        }
        site = await client.post("/api/v1/storage-sites", json=spec)
        assert site.status_code == 201, site.text
        await manual_clock(client)
        domain = await create_domain(registered, prepared, site.json()["id"])
        domain_id = domain["id"]
        ids = await protect(registered, domain_id, ["web-01", "web-02"])
        for _ in range(4):
            await advance(client, 300)
        assert (await domain_of(client, domain_id))["health"] == "ok"
    # Azurite is down: nothing ships, the log grows, the RPO passes its target.
    for _ in range(7):
        await advance(client, 60)
    stats = await statistics(client, domain_id)
    assert "cannot reach Azure Blob" in (stats["last_error"] or ""), stats
    assert stats["log_usage_percent"] > 2
    assert (await domain_of(client, domain_id))["health"] == "rpo_violation"
    assert "rpo_violation" in await active_alarms(client, domain_id)
    with objectstores.azurite(workdir, port):
        for _ in range(2):
            await advance(client, 60)
        state = await domain_of(client, domain_id)
        assert (state["health"], await active_alarms(client, domain_id)) == ("ok", set())
        assert (await statistics(client, domain_id))["log_usage_percent"] < 2
        await assert_replica_matches_source(client, ids)


async def test_a_domain_taken_over_elsewhere_is_fenced(
    registered: Appliance, tmp_path: Any
) -> None:
    client = registered.client
    prepared, site_id, spec = await local_site(registered, tmp_path)
    domain = await create_domain(registered, prepared, site_id)
    domain_id = domain["id"]
    await protect(registered, domain_id, ["web-01"])
    await advance(client, 600)
    store = objectstores.store_for(spec)
    manifest = json.loads(await store.get(domain["container"], "manifest.json"))
    manifest.update(
        owner_site="site-recovery", owner_site_name="recovery", epoch=manifest["epoch"] + 1
    )
    await store.put(domain["container"], "manifest.json", json.dumps(manifest).encode())
    await advance(client, 360)
    segments = await store.list(domain["container"], "segments/")
    await advance(client, 600)
    assert await store.list(domain["container"], "segments/") == segments
    state = await domain_of(client, domain_id)
    assert (state["health"], state["replication_enabled"]) == ("error", False)
    stats = await statistics(client, domain_id)
    assert stats["replication_state"] == "stopped"
    assert "recovery" in stats["last_error"]
    restart = await client.post(f"/api/v1/protection-domains/{domain_id}/actions/start-protection")
    assert restart.status_code == 409
    assert "owned by site recovery" in restart.json()["message"]


async def test_replication_resumes_after_a_restart(make_settings: Any, tmp_path: Any) -> None:
    from tests.conftest import start_appliance

    settings = make_settings()
    async with start_appliance(settings) as appliance:
        client = appliance.client
        await appliance.register_vcenter()
        prepared, site_id, _spec = await local_site(appliance, tmp_path)
        domain = await create_domain(appliance, prepared, site_id, rpo_target_seconds=120)
        domain_id = domain["id"]
        ids = await protect(appliance, domain_id, ["web-01"])
        await advance(client, 900)
        before = await statistics(client, domain_id)
        stopped_at = (await client.get("/_emulator/clock")).json()["now"]
    async with start_appliance(settings) as again:
        client = again.client
        # The virtual clock resumes where it was, never earlier.
        assert (await client.get("/_emulator/clock")).json()["now"] >= stopped_at
        await manual_clock(client)
        await advance(client, 300)
        state = await domain_of(client, domain_id)
        assert (state["mode"], state["health"]) == ("protecting", "ok"), state
        assert state["rpo_seconds"] < 120
        after = await statistics(client, domain_id)
        assert after["bytes_out"] > before["bytes_out"]
        assert after["puts"] > before["puts"]
        await assert_replica_matches_source(client, ids)


async def test_a_crashed_drva_stops_shipping_until_it_restarts(
    registered: Appliance, tmp_path: Any
) -> None:
    client = registered.client
    prepared, site_id, _spec = await local_site(registered, tmp_path)
    domain = await create_domain(registered, prepared, site_id, rpo_target_seconds=120)
    domain_id = domain["id"]
    drva_id = prepared["drva"]["id"]
    ids = await protect(registered, domain_id, ["web-01", "web-02"])
    for _ in range(4):
        await advance(client, 300)
    assert (await domain_of(client, domain_id))["health"] == "ok"

    await crash_drva(client, drva_id)
    assert "drva_down" in await active_alarms(client, drva_id)
    before = await statistics(client, domain_id)
    await advance(client, 300)
    stalled = await statistics(client, domain_id)
    assert stalled["bytes_out"] == before["bytes_out"]
    assert stalled["log_used_bytes"] > before["log_used_bytes"]
    assert "DRVA is not running" in (stalled["last_error"] or "")
    assert (await domain_of(client, domain_id))["health"] == "rpo_violation"
    again = await client.post("/_emulator/faults", json={"target": drva_id, "kind": "drva_crash"})
    assert again.status_code == 422  # it is down already

    await restart_drva(client, drva_id)
    for _ in range(3):
        await advance(client, 60)
    state = await domain_of(client, domain_id)
    assert (state["health"], state["rpo_seconds"] < 120) == ("ok", True), state
    assert await active_alarms(client, domain_id) == set()
    assert "drva_down" not in await active_alarms(client, drva_id)
    await assert_replica_matches_source(client, ids)


async def test_compaction_keeps_the_latest_consistent_point(
    registered: Appliance, tmp_path: Any
) -> None:
    """While a VM added later is still in its initial sync, every new point is inconsistent:
    the hourly compaction must not merge away the last point a failover can use."""
    client = registered.client
    prepared, site_id, spec = await local_site(registered, tmp_path)
    domain = await create_domain(registered, prepared, site_id)
    domain_id = domain["id"]
    ids = await protect(registered, domain_id, ["web-01"])
    await advance(client, 600)
    # About 2.4 hours of initial sync at the DRVA's 1 Gbit/s.
    added = await client.post(
        f"/api/v1/protection-domains/{domain_id}/vms",
        json={"vm_ids": await vm_ids(client, ["etl-01"])},
    )
    assert (await registered.wait_task(added.json()["id"]))["status"] == "succeeded"
    for _ in range(18):
        await advance(client, 300)

    points = (await client.get(f"/api/v1/protection-domains/{domain_id}/recovery-points")).json()[
        "items"
    ]
    assert points and not points[0]["consistent"]
    assert await objectstores.store_for(spec).list(domain["container"], "checkpoints/")
    consistent = [point for point in points if point["consistent"]]
    assert consistent, ("the compaction merged away every consistent point", points[-3:])
    await assert_replica_matches_source(client, ids, consistent[0]["id"])


async def test_a_site_that_learns_it_lost_the_domain_writes_no_more(
    registered: Appliance, tmp_path: Any
) -> None:
    """Another site takes the domain over (a new epoch in the manifest), and this site learns it
    from the manifest while serving a request, before its replication engine looks: the engine
    must stop there, and above all not ship its own writes into the new owner's generation."""
    from app.domain.protection_domains.models import ProtectionDomain
    from app.domain.protection_domains.ownership import refresh_ownership

    client = registered.client
    prepared, site_id, spec = await local_site(registered, tmp_path)
    domain = await create_domain(registered, prepared, site_id)
    await protect(registered, domain["id"], ["web-01", "cache-01"])
    await advance(client, 300)
    store = objectstores.store_for(spec)
    manifest = json.loads(await store.get(domain["container"], "manifest.json"))
    manifest.update(epoch=manifest["epoch"] + 1, owner_site="elsewhere")
    await store.put(domain["container"], "manifest.json", json.dumps(manifest).encode())
    async with registered.container.platform.sessionmaker() as session:
        row = await session.get(ProtectionDomain, domain["id"])
        assert row is not None
        await refresh_ownership(session, registered.container.platform, row)
        await session.commit()

    for _ in range(6):
        await advance(client, 60)
    assert await store.list(domain["container"], f"segments/{manifest['epoch']:06d}/") == []
    state = await domain_of(client, domain["id"])
    assert (state["mode"], state["owner_site"]) == ("replication_disabled", "elsewhere")
    statistics_now = await statistics(client, domain["id"])
    assert statistics_now["replication_state"] == "stopped", statistics_now


async def test_a_domain_whose_rows_refuse_a_tick_does_not_hold_the_others_back(
    registered: Appliance, tmp_path: Any
) -> None:
    """A tick writes every domain in one transaction; when one domain's rows are refused (here a
    recovery point row already holding the id its next point gets), the others are written
    anyway, the clock advance still answers, and the refused domain catches up once it can."""
    client = registered.client
    prepared, site_id, _spec = await local_site(registered, tmp_path)
    blocked = (await create_domain(registered, prepared, site_id, name="erp"))["id"]
    moving = (await create_domain(registered, prepared, site_id, name="crm"))["id"]
    await protect(registered, blocked, ["web-01"])
    await protect(registered, moving, ["web-02"])
    await advance(client, 900)
    for domain_id in (blocked, moving):
        vms = (await client.get(f"/api/v1/protection-domains/{domain_id}/vms")).json()["items"]
        assert {vm["status"] for vm in vms} == {"protected"}, vms
    before = {d: (await domain_of(client, d))["last_recovery_point_at"] for d in (blocked, moving)}

    next_epoch = epoch_at(registered.platform.clock.timestamp() + 60)
    squatter = RecoveryPoint(
        id=recovery_point_id(blocked, 1, next_epoch),
        domain_id=blocked,
        generation=1,
        epoch=next_epoch - 1_000_000,
        timestamp=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        consistent=False,
        vm_ids=[],
    )
    async with registered.platform.sessionmaker() as session:
        session.add(squatter)
        await session.commit()

    await advance(client, 60)
    assert (await domain_of(client, moving))["last_recovery_point_at"] != before[moving]
    assert (await domain_of(client, blocked))["last_recovery_point_at"] == before[blocked]

    async with registered.platform.sessionmaker() as session:
        await session.execute(delete(RecoveryPoint).where(RecoveryPoint.id == squatter.id))
        await session.commit()
    await advance(client, 60)
    caught_up = await domain_of(client, blocked)
    assert caught_up["last_recovery_point_at"] != before[blocked]
    assert caught_up["rpo_seconds"] is not None and caught_up["rpo_seconds"] < 60
