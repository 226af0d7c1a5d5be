"""Protection modes, a DRVA crash and the AVS subscription's lapse, end to end: one appliance
process over HTTPS replicating to Azurite on the virtual clock, SIGKILLed while the
subscription is lapsed (what it decided must survive the restart)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from app.domain.protection_domains.write_path import DESTAGE_SECONDS
from tests.conftest import VCENTER
from tests.e2e.conftest import ServedAppliance
from tests.e2e.dr_pair import CLOCK, Site, prepare
from tests.peers.objectstores import AzuritePeer

pytestmark = pytest.mark.e2e

SUBSCRIPTION = "jsdr-1b7d-avs"
MODES = {"web-01": "write_through", "cache-01": "write_back_vmdk"}


def now_of(site: Site) -> dt.datetime:
    return dt.datetime.fromisoformat(site.get("/_emulator/clock")["now"])


def advance(site: Site, seconds: float) -> None:
    moved = site.client.post("/_emulator/clock/advance", json={"seconds": seconds}, timeout=300)
    assert moved.status_code == 200, moved.text


def active_alarms(site: Site) -> dict[str, dict[str, Any]]:
    items = site.get("/api/v1/alarms", active="true", limit=200)["items"]
    return {f"{alarm['type']}:{alarm['entity']['name']}": alarm for alarm in items}


def test_modes_a_drva_crash_and_a_lapsed_subscription(
    serve: Callable[..., ServedAppliance], azurite: AzuritePeer
) -> None:
    served = serve(JETDR_SITE_NAME="avs-site", **CLOCK)
    served.start()
    site = Site(served)
    ids = prepare(site, VCENTER, azurite)
    assert site.client.put("/_emulator/clock", json={"mode": "manual"}).status_code == 200
    domains: dict[str, str] = {}
    for vm_name, mode in MODES.items():
        created = site.act(
            "/api/v1/protection-domains",
            {
                "name": f"pd-{vm_name}",
                "storage_site_id": ids["storage_site_id"],
                "drva_id": ids["drva_id"],
                "replication_log_volume_id": ids["volume_id"],
            },
        )
        domain_id = created["entity"]["id"]
        path = f"/api/v1/protection-domains/{domain_id}"
        vm_id = site.named("vms", vm_name)["id"]
        site.act(f"{path}/vms", {"vm_ids": [vm_id], "protection_mode": mode})
        site.act(f"{path}/actions/start-protection")
        domains[vm_name] = domain_id
    for _ in range(6):
        advance(site, 600)

    def statistics(vm_name: str) -> dict[str, Any]:
        stats: dict[str, Any] = site.get(
            f"/api/v1/protection-domains/{domains[vm_name]}/statistics"
        )
        return stats

    def vm(vm_name: str) -> dict[str, Any]:
        items = site.get(f"/api/v1/protection-domains/{domains[vm_name]}/vms")["items"]
        return dict(items[0])

    # The modes as the guests feel them: write-back is acknowledged after the log alone.
    through, back = vm("web-01"), vm("cache-01")
    assert through["status"] == back["status"] == "protected"
    assert back["write_acknowledged_after_ms"] < through["write_acknowledged_after_ms"]
    window = statistics("cache-01")["write_back_log_bytes"]
    assert window == pytest.approx(back["write_mbps"] * 1e6 * DESTAGE_SECONDS, rel=0.01)
    assert statistics("web-01")["write_back_log_bytes"] == 0

    # A DRVA crash: both keep logging and stop shipping; only write-back leaves primary
    # storage short, and more so the longer the DRVA is down.
    crash = site.client.post(
        "/_emulator/faults", json={"target": ids["drva_id"], "kind": "drva_crash"}
    )
    assert crash.status_code == 201, crash.text
    for _ in range(10):
        advance(site, 30)
        if site.get(f"/api/v1/drvas/{ids['drva_id']}")["status"] == "stopped":
            break
    before = {name: statistics(name)["at_risk"] for name in MODES}
    advance(site, 900)
    after = {name: statistics(name)["at_risk"] for name in MODES}
    for name in MODES:
        assert after[name]["drva_running"] is False
        assert after[name]["unshipped_bytes"] > before[name]["unshipped_bytes"]
    assert after["web-01"]["not_on_primary_bytes"] == 0
    grown = after["cache-01"]["not_on_primary_bytes"] - before["cache-01"]["not_on_primary_bytes"]
    assert grown == pytest.approx(back["write_mbps"] * 1e6 * 900, rel=0.01)
    restart = site.start(f"/api/v1/drvas/{ids['drva_id']}/actions/restart")
    for _ in range(200):
        task = site.get(f"/api/v1/tasks/{restart}")
        if task["status"] in {"succeeded", "failed", "cancelled"}:
            break
        site.client.post("/_emulator/clock/advance", json={"seconds": 5, "settle": False})
    assert task["status"] == "succeeded", task
    advance(site, 600)
    assert statistics("cache-01")["at_risk"]["not_on_primary_bytes"] == window
    assert all(statistics(name)["replication_state"] == "replicating" for name in MODES)

    # The subscription: 14 days of grace after its expiry, then new writes in bitmaps only. (The
    # whole fortnight on the virtual clock is the in-process test's: here the expiry reported
    # is 13 days 23 hours old, so the grace ends within the hour.)
    changed = site.client.put("/api/v1/subscription", json={"subscription_id": SUBSCRIPTION})
    assert changed.status_code == 200, changed.text
    grace_end = now_of(site) + dt.timedelta(hours=1)
    expires = grace_end - dt.timedelta(days=14)
    reported = site.client.put("/_emulator/subscription", json={"expires_at": expires.isoformat()})
    assert reported.status_code == 200, reported.text
    assert reported.json()["status"] == "grace"
    assert dt.datetime.fromisoformat(reported.json()["grace_ends_at"]) == grace_end
    grace = active_alarms(site)[f"subscription_grace:{SUBSCRIPTION}"]
    assert grace["severity"] == "warning"
    advance(site, 1800)
    assert all(statistics(name)["replication_state"] == "replicating" for name in MODES)
    advance(site, 3600)
    lapsed = site.get("/api/v1/subscription")
    assert lapsed["status"] == "expired"
    alarms = active_alarms(site)
    assert alarms[f"subscription_expired:{SUBSCRIPTION}"]["severity"] == "critical"
    assert f"subscription_grace:{SUBSCRIPTION}" not in alarms
    points = {
        name: site.get(f"/api/v1/protection-domains/{domain_id}")["last_recovery_point_at"]
        for name, domain_id in domains.items()
    }

    # What the appliance decided survives a SIGKILL: still lapsed, still in bitmaps.
    served.kill()
    served.start()
    site.reconnect()
    assert site.get("/api/v1/subscription") == lapsed
    advance(site, 1800)
    for name, domain_id in domains.items():
        stats = statistics(name)
        assert stats["replication_state"] == "bitmap", stats
        recent = stats["samples"][-10:]
        assert all(s["bitmap"] and s["outgoing_mbps"] == 0 for s in recent), recent
        domain = site.get(f"/api/v1/protection-domains/{domain_id}")
        assert domain["last_recovery_point_at"] == points[name]
    assert f"subscription_expired:{SUBSCRIPTION}" in active_alarms(site)

    # Reinstated: the alarms clear and each domain resyncs from its bitmaps.
    reinstated_at = now_of(site)
    renewed = site.client.put(
        "/_emulator/subscription",
        json={"expires_at": (reinstated_at + dt.timedelta(days=365)).isoformat()},
    )
    assert renewed.status_code == 200 and renewed.json()["status"] == "active", renewed.text
    for _ in range(3):
        advance(site, 300)
    assert not [key for key in active_alarms(site) if key.startswith("subscription")]
    for name, domain_id in domains.items():
        assert statistics(name)["replication_state"] == "replicating"
        domain = site.get(f"/api/v1/protection-domains/{domain_id}")
        assert dt.datetime.fromisoformat(domain["last_recovery_point_at"]) > reinstated_at
        assert domain["health"] == "ok", domain
