"""Runbooks as the product has them (independent VMs, runbook groups with a startup order and a
delay between them, per-VM CPU, memory, network and IP settings, runbook scripts) in a failover
between two appliances over HTTPS sharing an Azurite storage site."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import ServedAppliance, artifacts_dir, dashboard_of
from tests.e2e.dr_pair import (
    all_protected,
    assert_recovered_equal_source,
    build_pair,
    import_at_recovery_site,
    report_of,
)
from tests.peers.objectstores import AzuritePeer

pytestmark = pytest.mark.e2e


def at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def test_runbook_groups_start_in_order_with_their_delays_settings_and_scripts(
    serve: Callable[..., ServedAppliance], azurite: AzuritePeer, browser: Any
) -> None:
    pair = build_pair(serve, azurite)
    a, b, domain_id = pair.a, pair.b, pair.domain_id
    domain_path = f"/api/v1/protection-domains/{domain_id}"
    import_at_recovery_site(pair)
    network = b.named("networks", "VM Network")
    runbook: dict[str, Any] = {
        "vms": [{"vm": "cache-01"}],
        "groups": [
            {
                "name": "web",
                "order": 2,
                "delay_seconds": 120,
                "vms": [
                    {"vm": "web-01", "boot_order": 2},
                    {
                        "vm_id": "web-02",
                        "boot_order": 1,
                        "delay_seconds": 45,
                        "networks": [{"source": "web-segment", "target": network["id"]}],
                    },
                ],
            },
            {
                "name": "db",
                "order": 1,
                "vms": [
                    {"vm": "app-01", "cpu": 4, "memory_gb": 12},
                    {
                        "vm": "app-03",
                        "ip": {
                            "mode": "static",
                            "address": "10.20.5.31",
                            "prefix_length": 24,
                            "gateway": "10.20.5.1",
                            "dns": ["10.20.5.53"],
                        },
                    },
                ],
                "scripts": [
                    {
                        "name": "check",
                        "when": "before",
                        "body": "# the database first\n"
                        "echo checking $JETDR_GROUP of ${JETDR_DOMAIN}",
                    },
                    {
                        "name": "warm",
                        "when": "after",
                        "body": "echo 'warming caches'\nsleep 30\nrm -rf /var/cache\nexit 3",
                    },
                ],
            },
        ],
    }

    # What cannot be a runbook is refused as a whole, with every problem named.
    bad = {
        "groups": [
            {"name": "a", "vms": [{"vm": "web-01"}]},
            {
                "name": "a",
                "vms": [
                    {"vm": "web-01"},
                    {"vm": "nope"},
                    {"vm": "app-01", "networks": [{"source": "x", "target": "net-nope"}]},
                ],
                "scripts": [
                    {"name": "s", "when": "before", "body": ""},
                    {"name": "s", "when": "after", "body": ""},
                ],
            },
        ]
    }
    refused = b.client.put(f"{domain_path}/runbook", json=bad)
    assert refused.status_code == 422, refused.text
    assert {e["field"] for e in refused.json()["field_errors"]} == {
        "groups[1].name",
        "groups[1].vms[0].vm",
        "groups[1].vms[1].vm",
        "groups[1].vms[2].networks[0].target",
        "groups[1].scripts[1].name",
    }
    for entry in (
        {"vm": "web-01", "ip": {"mode": "static"}},
        {"vm": "web-01", "vm_id": "web-01"},
        {
            "vm": "web-01",
            "ip": {
                "mode": "static",
                "address": "10.0.0.1",
                "netmask": "255.0.0.0",
                "prefix_length": 8,
            },
        },
    ):
        assert b.client.put(f"{domain_path}/runbook", json={"vms": [entry]}).status_code == 422
    assert b.get(f"{domain_path}/runbook")["groups"] == []

    saved = b.client.put(f"{domain_path}/runbook", json=runbook)
    assert saved.status_code == 200, saved.text
    stored = saved.json()
    assert [g["name"] for g in stored["groups"]] == ["web", "db"]
    assert stored["groups"][1]["vms"][0]["memory_mb"] == 12 * 1024
    assert stored["groups"][0]["vms"][1]["vm"] == "web-02"

    task = b.act(f"{domain_path}/actions/failover", {"type": "regular", "runbook_id": stored["id"]})
    report = report_of(b, task)
    assert_recovered_equal_source(b, report, a, pair.source_ids)
    stages = report["runbook"]
    assert [(s["group"], s["order"]) for s in stages] == [(None, 0), ("db", 1), ("web", 2)]
    independent, db, web = stages
    assert independent["vms"] == ["cache-01"]
    assert db["vms"] == ["app-01", "app-03"] and web["vms"] == ["web-02", "web-01"]
    # Each stage starts once the one before is up (and its scripts ran); web 120 s after.
    assert at(db["started_at"]) >= at(independent["up_at"])
    assert at(web["started_at"]) - at(db["up_at"]) >= dt.timedelta(seconds=120 + 30)

    vms = {vm["name"]: vm for vm in report["vms"]}
    assert {name: vm["group"] for name, vm in vms.items()} == {
        "cache-01": None,
        "app-01": "db",
        "app-03": "db",
        "web-01": "web",
        "web-02": "web",
    }
    assert at(vms["web-01"]["powered_on_at"]) - at(vms["web-02"]["powered_on_at"]) >= (
        dt.timedelta(seconds=45)
    )
    app = b.get(f"/api/v1/vms/{vms['app-01']['vm_id']}")
    assert (app["cpu"], app["memory_mb"]) == (4, 12 * 1024)
    assert b.get(f"/api/v1/vms/{vms['app-03']['vm_id']}")["ip"] == "10.20.5.31"
    assert vms["web-02"]["network_id"] == network["id"]

    # The scripts ran as steps of the recovery, their output and exit status in the report.
    check, warm = db["scripts"]
    assert (check["name"], check["when"], check["exit_code"]) == ("check", "before", 0)
    assert check["output"] == "checking db of erp"
    assert (warm["when"], warm["exit_code"]) == ("after", 3)
    assert warm["output"].splitlines() == [
        "warming caches",
        "rm: not run (the emulator runs echo, sleep and exit only)",
    ]
    assert at(warm["finished_at"]) - at(warm["started_at"]) >= dt.timedelta(seconds=30)
    assert web["scripts"] == []

    # The task's events show the groups starting in order.
    messages = [e["message"] for e in b.get(f"/api/v1/tasks/{task['id']}/events")]
    order = [m for m in messages if m.startswith("runbook") and " starts: " in m]
    assert [m.split(" starts: ")[0] for m in order] == [
        "runbook independent VMs",
        "runbook group db",
        "runbook group web",
    ], messages
    assert any("script warm (after) exited 3" in m for m in messages), messages
    assert "runbook group web: waiting 120 s" in messages

    # Where people look: the recovery site's dashboard lists the report with its RTO.
    page = dashboard_of(browser, b.served)
    row = page.locator("#reports tbody tr", has_text="failover")
    row.wait_for(timeout=30_000)
    text = row.inner_text()
    assert "erp" in text and "succeeded" in text and "protected → recovery" in text, text
    assert f"{report['rto_seconds']} s" in text, text
    page.screenshot(path=str(artifacts_dir() / "dashboard-recovery.png"), full_page=True)


def test_several_runbooks_start_in_their_order(
    serve: Callable[..., ServedAppliance], azurite: AzuritePeer
) -> None:
    pair = build_pair(serve, azurite)
    a, b, erp_id = pair.a, pair.b, pair.domain_id
    # A second domain at A, imported at B too.
    created = a.act(
        "/api/v1/protection-domains",
        {
            "name": "crm",
            "storage_site_id": pair.a_ids["storage_site_id"],
            "drva_id": pair.a_ids["drva_id"],
            "replication_log_volume_id": pair.a_ids["volume_id"],
        },
    )
    crm_id = created["entity"]["id"]
    crm_vms = [a.named("vms", name)["id"] for name in ("dc-01", "mq-01")]
    a.act(f"/api/v1/protection-domains/{crm_id}/vms", {"vm_ids": crm_vms})
    a.act(f"/api/v1/protection-domains/{crm_id}/actions/start-protection")
    a.until(lambda: all_protected(a, crm_id))
    import_at_recovery_site(pair)
    storage = pair.b_ids["storage_site_id"]
    b.act(f"/api/v1/storage-sites/{storage}/actions/scan-domains")
    b.act(
        f"/api/v1/protection-domains/{crm_id}/actions/import",
        {"storage_site_id": storage, "domain_id": crm_id},
    )

    # crm's runbook comes first, and takes its time (a ten-minute script, then half an hour
    # before its second group): longer than erp's rehydration.
    crm_runbook = {
        "order": 1,
        "groups": [
            {
                "name": "directory",
                "vms": [{"vm": "dc-01"}],
                "scripts": [{"name": "settle", "when": "before", "body": "sleep 600"}],
            },
            {"name": "queue", "order": 1, "delay_seconds": 1800, "vms": [{"vm": "mq-01"}]},
        ],
    }
    for domain_id, runbook in ((crm_id, crm_runbook), (erp_id, {"order": 2})):
        saved = b.client.put(f"/api/v1/protection-domains/{domain_id}/runbook", json=runbook)
        assert saved.status_code == 200, saved.text
        assert saved.json()["order"] == runbook["order"]

    # erp is asked first, yet its VMs wait for crm's.
    erp_task = b.start(f"/api/v1/protection-domains/{erp_id}/actions/failover", {})
    crm_task = b.start(f"/api/v1/protection-domains/{crm_id}/actions/failover", {})
    erp, crm = b.wait(erp_task), b.wait(crm_task)
    assert erp["status"] == crm["status"] == "succeeded", (erp, crm)
    messages = [e["message"] for e in b.get(f"/api/v1/tasks/{erp['id']}/events")]
    assert erp["result"].get("waited_for_runbooks") == ["crm"], (erp["result"], messages)
    erp_report, crm_report = report_of(b, erp), report_of(b, crm)
    crm_up = max(at(vm["powered_on_at"]) for vm in crm_report["vms"])
    erp_first = min(at(vm["powered_on_at"]) for vm in erp_report["vms"])
    assert erp_first >= crm_up, (erp_first, crm_up)
    messages = [e["message"] for e in b.get(f"/api/v1/tasks/{erp['id']}/events")]
    assert "runbook order 2: waiting for the runbooks of crm" in messages, messages
    assert_recovered_equal_source(b, erp_report, a, pair.source_ids)
