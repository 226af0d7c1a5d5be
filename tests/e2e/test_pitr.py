"""Point-in-time recovery as the product documents it: the window and what keeping it costs,
and, during a continuous failover, a point in time chosen, tested, then recovered — between two
appliances over HTTPS sharing an Azurite storage site."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from jetdr.cli import main as jetdr
from tests.conftest import ROOT_PASSWORD
from tests.e2e.conftest import ServedAppliance
from tests.e2e.dr_pair import (
    assert_recovered_equal_source,
    build_pair,
    import_at_recovery_site,
    report_of,
)
from tests.peers.objectstores import AzuritePeer

pytestmark = pytest.mark.e2e

ESTIMATED_IOPS = 40


def stamp(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def test_a_point_in_time_chosen_during_continuous_failover_is_tested_then_recovered(
    serve: Callable[..., ServedAppliance],
    azurite: AzuritePeer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pair = build_pair(serve, azurite, pitr=True, pitr_iops=ESTIMATED_IOPS)
    a, b, domain_id = pair.a, pair.b, pair.domain_id
    domain_path = f"/api/v1/protection-domains/{domain_id}"
    assert a.get(domain_path)["pitr"] == {
        "enabled": True,
        "window_days": 1,
        "estimated_data_rate_iops": ESTIMATED_IOPS,
    }

    def window_seconds() -> float:
        window = a.get(f"{domain_path}/pitr")
        if window["window_start"] is None:
            return 0.0
        return (stamp(window["window_end"]) - stamp(window["window_start"])).total_seconds()

    a.until(lambda: window_seconds() > 1800, timeout=180)

    # The window and its cost: the creator estimated fewer IOPS than the VMs write.
    window = a.get(f"{domain_path}/pitr")
    assert window["enabled"] and window["window_days"] == 1
    assert window["points"] >= window["consistent_points"] > 10, window
    observed = window["observed_data_rate_iops"]
    assert observed > ESTIMATED_IOPS and window["estimate_covers_observed"] is False, window
    assert window["projected_storage_gb"] == pytest.approx(
        window["observed_data_rate_mbps"] * 86400 / 1000, rel=0.01
    )
    # The estimate is sized at the VMs' own mean write size.
    assert window["estimated_storage_gb"] == pytest.approx(
        window["projected_storage_gb"] * ESTIMATED_IOPS / observed, rel=0.01
    )

    connection = ["--url", b.served.url, "--password", ROOT_PASSWORD]
    ca = ["--ca-file", str(b.served.data_dir / "tls" / "cert.pem")]
    import_at_recovery_site(pair)
    # The recovery site sees the same window, read from the container.
    assert jetdr([*connection, *ca, "--json", "pitr", "erp"]) == 0
    seen = json.loads(capsys.readouterr().out)
    assert (seen["estimated_data_rate_iops"], seen["window_days"]) == (ESTIMATED_IOPS, 1)
    assert seen["points"] >= window["points"]
    started = b.act(f"{domain_path}/actions/failover", {"continuous": True})
    assert started["type"] == "continuous_rehydration"
    assert b.get(domain_path)["mode"] == "continuous_failover"

    # A moment 20 virtual minutes before the newest point; the point it picks is the newest
    # consistent one at or before it.
    points = b.get(f"{domain_path}/recovery-points")["items"]
    wanted = stamp(points[0]["timestamp"]) - dt.timedelta(minutes=20)
    expected = next(p for p in points if p["consistent"] and stamp(p["timestamp"]) <= wanted)
    assert stamp(expected["timestamp"]) < stamp(points[0]["timestamp"]) - dt.timedelta(minutes=15)

    # What cannot be chosen is refused, and nothing starts.
    now = stamp(b.get("/_emulator/clock")["now"])
    for body, code in (
        ({"point_in_time": (now - dt.timedelta(days=2)).isoformat()}, "point_outside_window"),
        (
            {"point_in_time": wanted.isoformat(), "recovery_point_id": expected["id"]},
            "validation_error",
        ),
        ({"point_in_time": "2026-12-01T10:00:00"}, "validation_error"),
    ):
        for action in ("test-failover", "complete-failover"):
            refused = b.client.post(f"{domain_path}/actions/{action}", json=body)
            assert refused.status_code == 422, (action, body, refused.text)
            assert refused.json()["error_code"] == code, refused.text
    assert b.get(domain_path)["mode"] == "continuous_failover"

    # Test it: jss-tvm VMs from that point, equal to the source at its time.
    test = b.act(f"{domain_path}/actions/test-failover", {"point_in_time": wanted.isoformat()})
    report = report_of(b, test)
    assert (report["kind"], report["recovery_point_id"]) == ("test_failover", expected["id"])
    for vm in report["vms"]:
        tested = b.get(f"/_emulator/vms/{vm['vm_id']}/disk-digest")["digest"]
        assert tested == a.digest(pair.source_ids[vm["name"]], expected["timestamp"]), vm
    assert b.get(domain_path)["mode"] == "test_failover"
    b.act(f"{domain_path}/actions/stop-test-failover", {"success": True, "summary": "db ok"})
    assert b.get(domain_path)["mode"] == "continuous_failover"

    # Then recover it: completing the continuous failover at that point, through `jetdr`.
    args = [*connection, *ca, "--json", "complete-failover", "erp"]
    assert jetdr([*args, "--point-in-time", wanted.isoformat()]) == 0, capsys.readouterr().err
    task: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert (task["type"], task["status"]) == ("complete_recovery", "succeeded"), task
    report = report_of(b, task)
    assert report["recovery_point_id"] == expected["id"]
    assert report["recovery_point_at"] == expected["timestamp"]
    assert_recovered_equal_source(b, report, a, pair.source_ids)
    domain = b.get(domain_path)
    assert (domain["mode"], domain["owner_site_name"]) == ("running_in_failover", "recovery")
