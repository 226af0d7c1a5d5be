"""Failover and failback between two appliances (separate processes over HTTPS) sharing an
Azurite storage site; every recovered disk is compared with its source at the point used."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from tests.e2e.conftest import ServedAppliance
from tests.e2e.dr_pair import (
    Pair,
    assert_recovered_equal_source,
    build_pair,
    import_at_recovery_site,
    report_of,
)
from tests.peers.objectstores import AzuritePeer

pytestmark = pytest.mark.e2e
Serve = Callable[..., ServedAppliance]
# At 1,000x, a second of real latency between the two processes is 17 virtual minutes: a
# failback that is not about pausing waits long enough for a loaded CI machine.
PATIENT = {"max_delay_minutes": 600}


def fail_back(
    pair: Pair,
    b_ids: dict[str, str],
    killed_in: str | None = None,
    names: tuple[str, str] = ("recovery", "protected"),
) -> dict[str, object]:
    """Fail back to A and check it; `killed_in`: A is SIGKILLed during that step of it;
    `names`: what A calls B and itself by then."""
    a, b, domain_id = pair.a, pair.b, pair.domain_id
    path = f"/api/v1/protection-domains/{domain_id}/actions/failback"
    task = (
        a.kill_during("failback", killed_in, "POST", path, PATIENT)
        if killed_in
        else a.act(path, PATIENT)
    )
    assert task["status"] == "succeeded", task
    report = report_of(a, task)
    assert (report["kind"], report["source_site_name"], report["target_site_name"]) == (
        "failback",
        *names,
    )
    assert_recovered_equal_source(a, report, b, b_ids)
    domain = a.get(f"/api/v1/protection-domains/{domain_id}")
    assert (domain["mode"], domain["owner_site_name"], domain["replication_enabled"]) == (
        "protecting",
        names[1],
        True,
    )
    # B handed over: its VMs are off and it no longer replicates.
    released = b.get(f"/api/v1/protection-domains/{domain_id}")
    assert (released["mode"], released["replication_enabled"]) == ("replication_disabled", False)
    for vm_id in b_ids.values():
        assert b.get(f"/api/v1/vms/{vm_id}")["power_state"] == "poweredOff"
    return report


def test_fail_over_to_the_recovery_site_and_back(serve: Serve, azurite: AzuritePeer) -> None:
    pair = build_pair(serve, azurite)
    a, b, domain_id = pair.a, pair.b, pair.domain_id
    premature = a.client.post(f"/api/v1/protection-domains/{domain_id}/actions/failback", json={})
    assert premature.status_code == 409, premature.text
    assert "nothing to fail back" in premature.json()["message"]
    import_at_recovery_site(pair)
    a.ships_again(domain_id)

    task = b.act(f"/api/v1/protection-domains/{domain_id}/actions/failover", {"type": "regular"})
    report = report_of(b, task)
    assert_recovered_equal_source(b, report, a, pair.source_ids)
    assert report["rto_seconds"] > 0 and report["recovery_point_id"]
    domain = b.get(f"/api/v1/protection-domains/{domain_id}")
    assert (domain["mode"], domain["owner_site_name"]) == ("running_in_failover", "recovery")
    vms = b.get(f"/api/v1/protection-domains/{domain_id}/vms")["items"]
    assert {vm["status"] for vm in vms} == {"recoverable"}
    names = {vm["name"] for vm in b.get("/api/v1/vms", limit=1000)["items"]}
    assert not [n for n in names if n.startswith(("jss-rocva", "jss-rehydrate"))], names
    again = b.client.post(f"/api/v1/protection-domains/{domain_id}/actions/failover", json={})
    assert again.status_code == 409, again.text
    wrong_site = b.client.post(f"/api/v1/protection-domains/{domain_id}/actions/failback", json={})
    assert wrong_site.status_code == 409, wrong_site.text

    # A is fenced: the manifest names B at a newer epoch.
    a.until(lambda: a.get(f"/api/v1/protection-domains/{domain_id}")["health"] == "error")
    assert a.get(f"/api/v1/protection-domains/{domain_id}")["mode"] == "replication_disabled"
    # Protection resumed from B into the same container: new points keep coming.
    first = b.get(f"/api/v1/protection-domains/{domain_id}")["last_recovery_point_at"]
    b.until(
        lambda: b.get(f"/api/v1/protection-domains/{domain_id}")["last_recovery_point_at"] != first
    )

    # Both sites are renamed between the failover and the failback: A through the API, B by a
    # restart with another JETDR_SITE_NAME. Ownership is by id, so nothing is fenced.
    renamed = a.client.patch("/api/v1/appliance", json={"site_name": "protected-west"})
    assert renamed.status_code == 200, renamed.text
    b.served.stop()
    b.served.env["JETDR_SITE_NAME"] = "recovery-east"
    b.served.start()
    b.reconnect()
    assert b.get("/api/v1/status")["site"]["name"] == "recovery-east"
    b.ships_again(domain_id)
    owned = b.get(f"/api/v1/protection-domains/{domain_id}")
    assert (owned["mode"], owned["replication_enabled"], owned["owner_site_name"]) == (
        "running_in_failover",
        True,
        "recovery-east",
    )
    # Not fenced: at 1,000x the restart itself may leave the RPO over its target for a while.
    assert owned["health"] in ("ok", "rpo_violation"), owned
    assert "fenced" not in str(
        b.get(f"/api/v1/protection-domains/{domain_id}/statistics").get("last_error")
    )

    b_ids = {vm["name"]: vm["vm_id"] for vm in report["vms"]}
    # A calls B by the label it registered B under.
    fail_back(pair, b_ids, killed_in="rehydrate", names=("recovery", "protected-west"))


def test_failover_through_a_store_outage_a_drva_crash_and_a_killed_recovery_appliance(
    serve: Serve, azurite: AzuritePeer
) -> None:
    pair = build_pair(serve, azurite)
    a, b, domain_id = pair.a, pair.b, pair.domain_id
    import_at_recovery_site(pair)
    domain_path = f"/api/v1/protection-domains/{domain_id}"

    outage = a.client.post("/_emulator/faults", json={"target": "*", "kind": "objectstore_outage"})
    assert outage.status_code == 201, outage.text
    a.until(lambda: a.get(f"{domain_path}/statistics")["replication_state"] == "bitmap")
    assert a.client.delete(f"/_emulator/faults/{outage.json()['id']}").status_code == 204
    a.until(lambda: a.get(f"{domain_path}/statistics")["replication_state"] == "replicating")
    a.ships_again(domain_id)
    alarms = a.get("/api/v1/alarms", active="true", entity_id=domain_id)["items"]
    assert not {"bitmap", "backpressure"} & {alarm["type"] for alarm in alarms}, alarms

    crash = a.client.post("/_emulator/faults", json={"target": "*", "kind": "drva_crash"})
    assert crash.status_code == 201, crash.text
    a.until(lambda: a.get(f"/api/v1/drvas/{pair.a_ids['drva_id']}")["status"] != "running")
    # A replication step that began before the heartbeat saw the crash may still ship: the last
    # point is known once a step has found the DRVA down.
    a.until(
        lambda: "DRVA is not running" in (a.get(f"{domain_path}/statistics")["last_error"] or "")
    )
    stalled_at = a.get(domain_path)["last_recovery_point_at"]

    # The first VM to boot waits an hour of virtual time before the next: the recovery
    # appliance is killed in the middle of `recover_vms`.
    runbook = b.client.put(
        f"{domain_path}/runbook",
        json={"vms": [{"vm": "app-01", "boot_order": 0, "delay_seconds": 3000}]},
    )
    assert runbook.status_code == 200, runbook.text
    task_id = b.start(f"{domain_path}/actions/failover", {"type": "regular"})

    def first_vm_up() -> bool:
        reports = b.get("/api/v1/recovery-reports", domain_id=domain_id)["items"]
        return any(vm["outcome"] == "recovered" for r in reports for vm in r["vms"])

    b.until(first_vm_up, every=0.05)
    steps = {s["name"]: s["status"] for s in b.get(f"/api/v1/tasks/{task_id}")["steps"]}
    assert steps["recover_vms"] == "running", steps
    b.served.kill()
    b.served.start()
    b.reconnect()
    task = b.wait(task_id)
    assert task["status"] == "succeeded", task
    report = report_of(b, task)
    # The point used is the last one the crashed DRVA shipped; the disks equal the source then.
    assert report["recovery_point_at"] <= stalled_at
    assert_recovered_equal_source(b, report, a, pair.source_ids)
    recovered = [vm for vm in b.get("/api/v1/vms", limit=1000)["items"] if vm["name"] == "app-01"]
    assert len(recovered) == 1, recovered


def test_pitr_test_failover_then_failover_an_hour_back(serve: Serve, azurite: AzuritePeer) -> None:
    pair = build_pair(serve, azurite, pitr=True)
    a, b, domain_id = pair.a, pair.b, pair.domain_id
    domain_path = f"/api/v1/protection-domains/{domain_id}"

    def window_seconds() -> float:
        points = a.get(f"{domain_path}/recovery-points")["items"]
        stamps = [dt.datetime.fromisoformat(p["timestamp"]) for p in points]
        return (max(stamps) - min(stamps)).total_seconds() if stamps else 0.0

    a.until(lambda: window_seconds() > 3900, timeout=180)
    import_at_recovery_site(pair)
    points = b.get(f"{domain_path}/recovery-points")["items"]
    latest = dt.datetime.fromisoformat(points[0]["timestamp"])
    hour_back = min(
        points,
        key=lambda p: abs(
            (latest - dt.datetime.fromisoformat(p["timestamp"])).total_seconds() - 3600
        ),
    )
    # A point per replication step: a virtual minute apart, or up to ten (the engine's catch-up
    # step) when it lags the 1000x clock on a loaded machine.
    assert (
        abs((latest - dt.datetime.fromisoformat(hour_back["timestamp"])).total_seconds() - 3600)
        <= 600
    )

    # A test failover first: jss-tvm VMs, ownership unchanged, then stopped with a verdict.
    # B is killed while it creates the test VMs, and again while it removes them.
    test = b.kill_during(
        "test_failover",
        "recover_vms",
        "POST",
        f"{domain_path}/actions/test-failover",
        {"recovery_point_id": hour_back["id"]},
    )
    report = report_of(b, test)
    assert (report["kind"], report["status"]) == ("test_failover", "running")
    assert report["recovery_point_id"] == hour_back["id"]
    for vm in report["vms"]:
        created = b.get(f"/api/v1/vms/{vm['vm_id']}")
        assert created["name"] == f"jss-tvm-{vm['name']}"
        assert created["power_state"] == "poweredOn"
        tested = b.get(f"/_emulator/vms/{vm['vm_id']}/disk-digest")["digest"]
        assert tested == a.digest(pair.source_ids[vm["name"]], hour_back["timestamp"])
    assert b.get(domain_path)["mode"] == "test_failover"
    assert b.get(domain_path)["owner_site_name"] == "protected"
    busy = b.client.post(f"{domain_path}/actions/test-failover", json={})
    assert busy.status_code == 409
    stop = b.kill_during(
        "stop_test_failover",
        "remove_test_vms",
        "POST",
        f"{domain_path}/actions/stop-test-failover",
        {"success": True, "summary": "app ok"},
    )
    assert stop["status"] == "succeeded", stop
    stopped = b.get(f"/api/v1/recovery-reports/{report['id']}")
    assert (stopped["status"], stopped["success"], stopped["summary"]) == (
        "succeeded",
        True,
        "app ok",
    )
    assert b.get(domain_path)["mode"] == "imported"
    names = {vm["name"] for vm in b.get("/api/v1/vms", limit=1000)["items"]}
    assert not [n for n in names if n.startswith("jss-")], names

    # Then the real failover, to the same point an hour back.
    task = b.act(
        f"{domain_path}/actions/failover",
        {"type": "regular", "recovery_point_id": hour_back["id"]},
    )
    report = report_of(b, task)
    assert report["recovery_point_id"] == hour_back["id"]
    assert_recovered_equal_source(b, report, a, pair.source_ids)
    newest = [
        vm
        for vm in report["vms"]
        if a.digest(pair.source_ids[vm["name"]], points[0]["timestamp"])
        != b.get(f"/_emulator/vms/{vm['vm_id']}/disk-digest", at=vm["recovered_at"])["digest"]
    ]
    assert newest, "the hour-old point should differ from the latest for VMs that write"


def test_planned_failover_then_a_failback_that_pauses_and_resumes(
    serve: Serve, azurite: AzuritePeer
) -> None:
    pair = build_pair(serve, azurite)
    a, b, domain_id = pair.a, pair.b, pair.domain_id
    domain_path = f"/api/v1/protection-domains/{domain_id}"
    import_at_recovery_site(pair, killed=True)

    task = b.act(f"{domain_path}/actions/failover", {"type": "planned"})
    report = report_of(b, task)
    assert report["type"] == "planned"
    assert_recovered_equal_source(b, report, a, pair.source_ids)
    # A shut its VMs down before the final point: nothing written there since.
    for name, vm_id in pair.source_ids.items():
        assert a.get(f"/api/v1/vms/{vm_id}")["power_state"] == "poweredOff"
        now = a.get("/_emulator/clock")["now"]
        assert a.digest(vm_id, now) == a.digest(vm_id, report["recovery_point_at"]), name
    released = a.get(domain_path)
    assert (released["mode"], released["replication_enabled"]) == ("replication_disabled", False)
    started = a.client.post(f"{domain_path}/actions/start-protection")
    assert started.status_code == 409, started.text

    # B cannot reach the store: its log cannot drain, so the failback pauses at its maximum
    # delay; once the store is back, resume-failback finishes it.
    outage = b.client.post("/_emulator/faults", json={"target": "*", "kind": "objectstore_outage"})
    assert outage.status_code == 201
    paused = a.act(f"{domain_path}/actions/failback", {"max_delay_minutes": 2})
    assert paused["result"]["paused"] is True, paused
    assert a.get(domain_path)["mode"] == "failback_paused"
    again = a.client.post(f"{domain_path}/actions/failback", json={})
    assert again.status_code == 409
    assert b.client.delete(f"/_emulator/faults/{outage.json()['id']}").status_code == 204
    resumed = a.act(f"{domain_path}/actions/resume-failback", PATIENT)
    report = report_of(a, resumed)
    b_ids = {vm["name"]: vm["vm_id"] for vm in report_of(b, task)["vms"]}
    assert_recovered_equal_source(a, report, b, b_ids)
    assert a.get(domain_path)["mode"] == "protecting"
    reports = a.get("/api/v1/recovery-reports", domain_id=domain_id)["items"]
    assert [r["kind"] for r in reports] == ["failback"]
    not_paused = a.client.post(f"{domain_path}/actions/resume-failback", json={})
    assert not_paused.status_code == 409


def test_continuous_failover_with_a_runbook(serve: Serve, azurite: AzuritePeer) -> None:
    pair = build_pair(serve, azurite)
    a, b, domain_id = pair.a, pair.b, pair.domain_id
    domain_path = f"/api/v1/protection-domains/{domain_id}"
    import_at_recovery_site(pair)
    network = b.named("networks", "VM Network")
    runbook = {
        "vms": [
            {"vm": "web-01", "boot_order": 2, "cpu": 6, "memory_mb": 12288},
            {
                "vm": "cache-01",
                "boot_order": 1,
                "delay_seconds": 60,
                "network_id": network["id"],
                "ip": {"mode": "static", "address": "10.20.5.21", "netmask": "255.255.255.0"},
            },
        ]
    }
    assert b.client.put(f"{domain_path}/runbook", json=runbook).status_code == 200
    bad = b.client.put(
        f"{domain_path}/runbook",
        json={"vms": [{"vm": "nope"}, {"vm": "web-01", "network_id": "net-x"}]},
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["field_errors"]} == {"vms[0].vm", "vms[1].network_id"}
    runbook_id = b.get(f"{domain_path}/runbook")["id"]

    # B is killed while it first rehydrates, and again while it brings the VMs up.
    started = b.kill_during(
        "continuous_rehydration",
        "rehydrate",
        "POST",
        f"{domain_path}/actions/failover",
        {"continuous": True, "runbook_id": runbook_id},
    )
    assert started["status"] == "succeeded", started
    domain = b.get(domain_path)
    assert (domain["mode"], domain["owner_site_name"]) == ("continuous_failover", "protected")
    names = {vm["name"] for vm in b.get("/api/v1/vms", limit=1000)["items"]}
    assert "jss-rocva-erp" in names and "jss-rehydrate-web-01" in names
    wrong = b.client.post(f"{domain_path}/actions/failover", json={"continuous": True})
    assert wrong.status_code == 409
    # Without PITR there is no point in time to choose.
    anytime = {"point_in_time": b.get("/_emulator/clock")["now"]}
    no_pitr = b.client.post(f"{domain_path}/actions/complete-failover", json=anytime)
    assert no_pitr.status_code == 422 and "has no PITR" in no_pitr.json()["message"], no_pitr.text

    # A keeps protecting meanwhile; the RocVA follows its points, and completing takes the
    # latest.
    [waiting] = b.get("/api/v1/recovery-reports", domain_id=domain_id)["items"]
    assert waiting["status"] == "rehydrating"
    b.until(
        lambda: (
            b.get(f"/api/v1/recovery-reports/{waiting['id']}")["recovery_point_at"]
            > waiting["recovery_point_at"]
        )
    )
    a.ships_again(domain_id)
    task = b.kill_during(
        "complete_recovery", "recover_vms", "POST", f"{domain_path}/actions/complete-failover"
    )
    report = report_of(b, task)
    assert report["continuous"] is True
    assert_recovered_equal_source(b, report, a, pair.source_ids)
    by_name = {vm["name"]: vm for vm in report["vms"]}
    web = b.get(f"/api/v1/vms/{by_name['web-01']['vm_id']}")
    assert (web["cpu"], web["memory_mb"]) == (6, 12288)
    cache = b.get(f"/api/v1/vms/{by_name['cache-01']['vm_id']}")
    assert cache["ip"] == "10.20.5.21"
    assert by_name["cache-01"]["powered_on_at"] < by_name["web-01"]["powered_on_at"]
    names = {vm["name"] for vm in b.get("/api/v1/vms", limit=1000)["items"]}
    assert not [n for n in names if n.startswith("jss-")], names


def test_continuous_failback_with_a_test_failover_meanwhile(
    serve: Serve, azurite: AzuritePeer
) -> None:
    pair = build_pair(serve, azurite)
    a, b, domain_id = pair.a, pair.b, pair.domain_id
    domain_path = f"/api/v1/protection-domains/{domain_id}"
    import_at_recovery_site(pair)
    b.act(f"{domain_path}/actions/failover", {"continuous": True})
    a.ships_again(domain_id)
    task = b.act(f"{domain_path}/actions/complete-failover")
    report = report_of(b, task)
    assert_recovered_equal_source(b, report, a, pair.source_ids)

    # Back to A by continuous failback: A rehydrates while B runs the VMs, a test failover is
    # allowed meanwhile, and completing it hands over and fails back.
    b_ids = {vm["name"]: vm["vm_id"] for vm in report["vms"]}
    a.act(f"{domain_path}/actions/failback", {"continuous": True, **PATIENT})
    assert a.get(domain_path)["mode"] == "continuous_failback"
    test = a.act(f"{domain_path}/actions/test-failover", {})
    assert report_of(a, test)["status"] == "running"
    a.act(f"{domain_path}/actions/stop-test-failover", {"success": False, "summary": "db slow"})
    assert a.get(domain_path)["mode"] == "continuous_failback"
    # B, handing over, is killed while it drains its log: its release resumes when it is back,
    # and A's failback keeps waiting for it meanwhile.
    held = b.client.post(
        "/_emulator/faults", json={"target": "release_domain.drain_log", "kind": "hang"}
    )
    assert held.status_code == 201, held.text
    task_id = a.start(f"{domain_path}/actions/complete-failback", PATIENT)

    def draining() -> bool:
        releases = b.get("/api/v1/tasks", type="release_domain", status="running")["items"]
        return any(
            s["name"] == "drain_log" and s["status"] == "running"
            for task in releases
            for s in task["steps"]
        )

    b.until(draining, every=0.02)
    b.served.kill()
    b.served.start()
    b.reconnect()
    task = a.wait(task_id)
    assert task["status"] == "succeeded", task
    report = report_of(a, task)
    assert (report["kind"], report["continuous"]) == ("failback", True)
    assert_recovered_equal_source(a, report, b, b_ids)
    assert a.get(domain_path)["mode"] == "protecting"
    kinds = sorted(r["kind"] for r in a.get("/api/v1/recovery-reports")["items"])
    assert kinds == ["failback", "test_failover"]
