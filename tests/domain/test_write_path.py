"""Protection modes and backpressure as the guests feel them: write-back acknowledges after the
log, write-through after the log and primary storage; backpressure slows the guests' writes to
what the DRVA drains (the reported rate and latency), and write-back keeps writes in the log
until primary storage takes them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from app.domain.protection_domains.write_path import (
    DESTAGE_SECONDS,
    WritePath,
    acknowledged_after_ms,
)
from tests.conftest import Appliance, start_appliance
from tests.domain.conftest import prepare_site
from tests.domain.test_replication import (
    advance,
    crash_drva,
    create_domain,
    local_site,
    manual_clock,
    restart_drva,
    statistics,
    vm_ids,
)


def test_write_back_is_acknowledged_sooner_than_write_through() -> None:
    for log in ("vmdk", "iscsi"):
        assert acknowledged_after_ms("write_back_vmdk", log) < acknowledged_after_ms(
            "write_through", log
        )
    assert acknowledged_after_ms("write_back_iscsi", "iscsi") < acknowledged_after_ms(
        "write_back_vmdk", "vmdk"
    )
    disks = [{"write_profile": {"write_iops": 100, "write_kb": 8}}]
    path = WritePath.of([("write_through", disks), ("write_back_vmdk", disks)], "vmdk")
    assert path.write_back_log_bytes == int(100 * 8 * 1024 * DESTAGE_SECONDS)
    assert path.guest(2e6, 5e5, backpressure=False) == (2e6, path.latency_ms)
    rate, latency = path.guest(2e6, 5e5, backpressure=True)
    assert rate == 5e5 and latency == pytest.approx(4 * path.latency_ms)


async def test_modes_and_backpressure_change_what_the_guests_see(
    make_settings: Any, tmp_path: Any
) -> None:
    # 1.5 MB/s of DRVA bandwidth against 3.93 MB/s of writes: the 10 GiB log fills in about
    # 74 minutes and stays above 90 % for about seven before it is full.
    settings = make_settings(replication={"drva_bandwidth_mbps": 12})
    async with start_appliance(settings) as appliance:
        client = appliance.client
        await appliance.register_vcenter()
        prepared = await prepare_site(appliance)
        volume = await client.post(
            f"/api/v1/drvas/{prepared['drva']['id']}/replication-log-volumes",
            json={
                "type": "iscsi",
                "size_gb": 10,
                "iscsi_target": "iqn.2005-10.org.freenas.ctl:jetdr",
                "lun": 1,
            },
        )
        iscsi = (await appliance.wait_task(volume.json()["id"]))["result"]["volume_id"]
        store = {"name": "local", "type": "local", "path": str(tmp_path / "store")}
        site = (await client.post("/api/v1/storage-sites", json=store)).json()
        await manual_clock(client)
        domain = await create_domain(
            appliance, {**prepared, "volume_id": iscsi}, site["id"], name="modes"
        )
        path = f"/api/v1/protection-domains/{domain['id']}"
        web, cache = await vm_ids(client, ["web-01", "cache-01"])
        for vm_id, mode in ((web, "write_through"), (cache, "write_back_iscsi")):
            added = await client.post(
                f"{path}/vms", json={"vm_ids": [vm_id], "protection_mode": mode}
            )
            assert (await appliance.wait_task(added.json()["id"]))["status"] == "succeeded"
        started = await client.post(f"{path}/actions/start-protection")
        assert (await appliance.wait_task(started.json()["id"]))["status"] == "succeeded"

        vms = {vm["name"]: vm for vm in (await client.get(f"{path}/vms")).json()["items"]}
        through, back = vms["web-01"], vms["cache-01"]
        assert back["write_acknowledged_after_ms"] < through["write_acknowledged_after_ms"]
        assert through["write_acknowledged_after_ms"] == acknowledged_after_ms(
            "write_through", "iscsi"
        )

        for _ in range(13):
            await advance(client, 300)
        steady = await statistics(client, domain["id"])
        assert steady["throttle_percent"] == 0.0
        assert steady["guest_write_mbps"] == steady["incoming_mbps"] > 0
        low = back["write_acknowledged_after_ms"]
        high = through["write_acknowledged_after_ms"]
        # Weighted by what each writes: cache-01 writes five times what web-01 does.
        weight = back["write_mbps"] / (back["write_mbps"] + through["write_mbps"])
        expected = weight * low + (1 - weight) * high
        assert steady["guest_write_latency_ms"] == pytest.approx(expected, abs=0.002)
        # Write-back keeps cache-01's last seconds of writes for primary storage.
        assert steady["write_back_log_bytes"] == pytest.approx(
            back["write_mbps"] * 1e6 * DESTAGE_SECONDS, rel=0.01
        )

        throttled: dict[str, Any] | None = None
        for _ in range(14):
            await advance(client, 60)
            current = await statistics(client, domain["id"])
            if current["backpressure_percent"] > 0 and current["throttle_percent"] > 0:
                throttled = current
                break
        assert throttled is not None, "the log never reached backpressure"
        # The guests write no faster than the DRVA drains, each write waiting longer.
        assert throttled["guest_write_mbps"] < throttled["incoming_mbps"]
        assert throttled["guest_write_mbps"] <= throttled["outgoing_mbps"] * 1.01
        assert throttled["guest_write_latency_ms"] > 2 * steady["guest_write_latency_ms"]
        slowed = [s for s in throttled["samples"] if s["backpressure"]]
        assert slowed and all(
            s["guest_write_mbps"] < s["incoming_mbps"]
            and s["guest_write_latency_ms"] > steady["guest_write_latency_ms"]
            for s in slowed
        ), slowed
        calm = [s for s in throttled["samples"] if not s["backpressure"] and s["incoming_mbps"]]
        assert calm and all(s["guest_write_mbps"] == s["incoming_mbps"] for s in calm)


async def test_what_a_drva_crash_puts_at_risk_in_each_mode(
    registered: Appliance, tmp_path: Any
) -> None:
    """Both modes keep logging while the DRVA is down, so shipping stops and the unshipped log
    grows alike; only write-back leaves primary storage short, by its destage window plus
    everything written since the DRVA (which destages) went down. A restart destages it."""
    client = registered.client
    prepared, site_id, _spec = await local_site(registered, tmp_path)
    drva_id = prepared["drva"]["id"]
    domains: dict[str, str] = {}
    for name, mode in (("through", "write_through"), ("back", "write_back_vmdk")):
        domain = await create_domain(registered, prepared, site_id, name=name)
        path = f"/api/v1/protection-domains/{domain['id']}"
        (vm_id,) = await vm_ids(client, ["web-01" if name == "through" else "cache-01"])
        added = await client.post(f"{path}/vms", json={"vm_ids": [vm_id], "protection_mode": mode})
        assert (await registered.wait_task(added.json()["id"]))["status"] == "succeeded"
        started = await client.post(f"{path}/actions/start-protection")
        assert (await registered.wait_task(started.json()["id"]))["status"] == "succeeded"
        domains[name] = domain["id"]
    for _ in range(4):
        await advance(client, 300)
    back_vm = (await client.get(f"/api/v1/protection-domains/{domains['back']}/vms")).json()
    back_rate = back_vm["items"][0]["write_mbps"] * 1e6
    running = {name: await statistics(client, domain_id) for name, domain_id in domains.items()}
    assert running["through"]["at_risk"] == {
        "drva_running": True,
        "drva_down_since": None,
        "unshipped_bytes": running["through"]["log_used_bytes"],
        "not_on_primary_bytes": 0,
    }
    window = running["back"]["write_back_log_bytes"]
    assert window == pytest.approx(back_rate * DESTAGE_SECONDS, rel=0.01)
    assert running["back"]["at_risk"]["not_on_primary_bytes"] == window

    await crash_drva(client, drva_id)
    await advance(client, 600)
    down = {name: await statistics(client, domain_id) for name, domain_id in domains.items()}
    for name in domains:
        at_risk = down[name]["at_risk"]
        assert at_risk["drva_running"] is False and at_risk["drva_down_since"] is not None
        assert at_risk["unshipped_bytes"] == down[name]["log_used_bytes"]
        assert at_risk["unshipped_bytes"] > running[name]["log_used_bytes"]
    assert down["through"]["at_risk"]["not_on_primary_bytes"] == 0
    now = (await client.get("/_emulator/clock")).json()["now"]
    since = down["back"]["at_risk"]["drva_down_since"]
    seconds_down = (dt.datetime.fromisoformat(now) - dt.datetime.fromisoformat(since)).seconds
    assert seconds_down >= 600
    behind = down["back"]["at_risk"]["not_on_primary_bytes"]
    assert behind == pytest.approx(window + back_rate * seconds_down, rel=0.01)
    assert down["back"]["write_back_log_bytes"] == behind

    await restart_drva(client, drva_id)
    await advance(client, 60)
    back = (await statistics(client, domains["back"]))["at_risk"]
    assert back["drva_running"] is True and back["drva_down_since"] is None
    assert back["not_on_primary_bytes"] == window
