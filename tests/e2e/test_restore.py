"""Restore: the recovery that makes the local site the domain's primary (beside failover and
failback), between two appliances over HTTPS sharing an Azurite storage site."""

from __future__ import annotations

from collections.abc import Callable

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


def test_restore_at_the_recovery_site_once_the_primary_is_lost(
    serve: Callable[..., ServedAppliance],
    azurite: AzuritePeer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pair = build_pair(serve, azurite)
    a, b, domain_id = pair.a, pair.b, pair.domain_id
    path = f"/api/v1/protection-domains/{domain_id}/actions/restore"
    # Where the domain runs, there is nothing to restore.
    owned = a.client.post(path, json={})
    assert owned.status_code == 409, owned.text
    import_at_recovery_site(pair)
    a.ships_again(domain_id)

    # The primary site still answers: a restore would take the domain from under it.
    refused = b.client.post(path, json={})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error_code"] == "owner_reachable"
    # The same through `jetdr`: an API error's exit status, the reason on stderr.
    connection = ["--url", b.served.url, "--password", ROOT_PASSWORD]
    ca = ["--ca-file", str(b.served.data_dir / "tls" / "cert.pem")]
    assert jetdr([*connection, *ca, "restore", "erp"]) == 5
    assert "owner_reachable" in capsys.readouterr().err
    assert b.get(f"/api/v1/protection-domains/{domain_id}")["mode"] == "imported"

    # The primary site is lost; the recovery appliance is SIGKILLed mid-restore and resumes it.
    a.served.stop()
    task = b.kill_during("restore", "rehydrate", "POST", path, {})
    assert (task["type"], task["status"]) == ("restore", "succeeded"), task
    domain = b.get(f"/api/v1/protection-domains/{domain_id}")
    assert (
        domain["mode"],
        domain["primary_site_name"],
        domain["owner_site_name"],
        domain["replication_enabled"],
    ) == ("protecting", "recovery", "recovery", True)
    vms = b.get(f"/api/v1/protection-domains/{domain_id}/vms")["items"]
    assert {vm["status"] for vm in vms} == {"protected"}
    report = report_of(b, task)
    assert (report["kind"], report["source_site_name"], report["target_site_name"]) == (
        "restore",
        "protected",
        "recovery",
    )
    # This site is the primary now: nothing to fail back to, nothing to fail over or restore.
    for action in ("failback", "failover", "restore"):
        again = b.client.post(f"/api/v1/protection-domains/{domain_id}/actions/{action}", json={})
        assert again.status_code == 409, (action, again.text)
    b.ships_again(domain_id)

    # The former primary comes back: fenced by the restore's epoch, and no longer the primary,
    # so it cannot fail the domain back to itself.
    a.served.start()
    a.reconnect()
    assert_recovered_equal_source(b, report, a, pair.source_ids)
    a.until(lambda: a.get(f"/api/v1/protection-domains/{domain_id}")["health"] == "error")
    fenced = a.get(f"/api/v1/protection-domains/{domain_id}")
    assert (fenced["mode"], fenced["replication_enabled"]) == ("replication_disabled", False)
    failback = a.client.post(f"/api/v1/protection-domains/{domain_id}/actions/failback", json={})
    assert failback.status_code == 409, failback.text
    assert "primary site (recovery)" in failback.json()["message"]
