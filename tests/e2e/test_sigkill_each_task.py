"""SIGKILL in the middle of each task type of a site's life (25 of them; the recovery tasks have
their own, in test_failover.py), then restart: the task resumes and finishes (or fails with a
reason), no task is left active, and no row is left half-changed (an entity in a transitional
state, or naming a task that has ended)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from app.core.db import sync_url
from app.domain.plugin.package import IOFILTER_VERSION
from tests.conftest import VCENTER
from tests.e2e.conftest import ServedAppliance
from tests.e2e.dr_pair import Site

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]
# (table, transitional statuses) an entity must not be left in without a running task.
ENTITIES = {
    "vcenter": ("registering", "unregistering"),
    "cluster": ("configuring", "unconfiguring", "upgrading", "resolving"),
    "drva": ("deploying", "deleting", "restarting", "redeploying"),
    "protection_domain": (
        "creating",
        "deleting",
        "adding_vms",
        "removing_vm",
        "starting",
        "stopping",
    ),
}


def with_database(appliance: ServedAppliance, *statements: str) -> list[Any]:
    """Run statements against the appliance's database; the rows of the last."""
    url = appliance.env.get("JETDR_DB__URL") or f"sqlite:///{appliance.data_dir / 'jetdr.db'}"
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            rows: list[Any] = []
            for statement in statements:
                result = connection.execute(text(statement))
                rows = list(result.all()) if result.returns_rows else []
            return rows
    finally:
        engine.dispose()


def assert_consistent(appliance: ServedAppliance, client: httpx.Client) -> None:
    for status in ("queued", "running", "cancelling"):
        active = client.get("/api/v1/tasks", params={"status": status}).json()
        assert active["_meta"]["total"] == 0, active
    url = appliance.env.get("JETDR_DB__URL") or f"sqlite:///{appliance.data_dir / 'jetdr.db'}"
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            for table, transitional in ENTITIES.items():
                stale = connection.execute(
                    text(f"SELECT id, status FROM {table} WHERE active_task_id IS NOT NULL")
                ).all()
                assert stale == [], (table, stale)
                statuses = {
                    row[0] for row in connection.execute(text(f"SELECT status FROM {table}"))
                }
                assert not statuses & set(transitional), (table, statuses)
    finally:
        engine.dispose()


def test_sigkill_in_each_task_of_a_site_s_life(
    serve: Callable[..., ServedAppliance], tmp_path: Path
) -> None:
    appliance = serve(JETDR_CLOCK__MODE="scaled", JETDR_CLOCK__SCALE="1000")
    appliance.start()
    site = Site(appliance)

    def one(path: str, **params: Any) -> dict[str, Any]:
        found: dict[str, Any] = site.get(path, **params)["items"][0]
        return found

    outcomes: dict[str, str] = {}

    def after(task: dict[str, Any]) -> None:
        outcomes[task["type"]] = task["status"]
        assert_consistent(appliance, site.client)

    after(
        site.kill_during(
            "register_vcenter", "discover_inventory", "POST", "/api/v1/vcenters", VCENTER
        )
    )
    cluster = one("/api/v1/clusters")
    after(
        site.kill_during(
            "configure_cluster",
            "install_filter",
            "POST",
            f"/api/v1/clusters/{cluster['id']}/actions/configure",
        )
    )
    datastore = one("/api/v1/datastores", name="vsanDatastore")
    network = one("/api/v1/networks", name="dhcp-segment")
    drva_spec = {
        "name": "drva",
        "cluster_id": cluster["id"],
        "datastore_id": datastore["id"],
        "network_id": network["id"],
    }
    after(site.kill_during("deploy_drva", "power_on", "POST", "/api/v1/drvas", drva_spec))
    drva = one("/api/v1/drvas")
    volume = {"type": "vmdk", "size_gb": 20, "datastore_id": datastore["id"]}
    after(
        site.kill_during(
            "create_log_volume",
            "attach",
            "POST",
            f"/api/v1/drvas/{drva['id']}/replication-log-volumes",
            volume,
        )
    )
    volume_id = site.client.get(f"/api/v1/drvas/{drva['id']}").json()["replication_log_volumes"][0][
        "id"
    ]
    store = site.client.post(
        "/api/v1/storage-sites",
        json={"name": "local", "type": "local", "path": str(tmp_path / "store")},
    )
    assert store.status_code == 201, store.text
    domain_spec = {
        "name": "erp",
        "storage_site_id": store.json()["id"],
        "drva_id": drva["id"],
        "replication_log_volume_id": volume_id,
    }
    created = site.kill_during(
        "create_domain", "create_container", "POST", "/api/v1/protection-domains", domain_spec
    )
    after(created)
    domain_id = created["entity"]["id"]
    vm_ids = [one("/api/v1/vms", name=name)["id"] for name in ("web-01", "web-02")]
    after(
        site.kill_during(
            "add_vms",
            "attach",
            "POST",
            f"/api/v1/protection-domains/{domain_id}/vms",
            {"vm_ids": vm_ids},
        )
    )
    after(
        site.kill_during(
            "start_protection",
            "start",
            "POST",
            f"/api/v1/protection-domains/{domain_id}/actions/start-protection",
        )
    )
    after(
        site.kill_during(
            "stop_protection",
            "stop",
            "POST",
            f"/api/v1/protection-domains/{domain_id}/actions/stop-protection",
        )
    )
    # The owner's side of a handover, with the domain protecting again.
    site.act(f"/api/v1/protection-domains/{domain_id}/actions/start-protection")
    after(
        site.kill_during(
            "release_domain",
            "drain_log",
            "POST",
            f"/api/v1/protection-domains/{domain_id}/actions/release",
            {"to_site": "elsewhere"},
        )
    )
    after(
        site.kill_during(
            "restart_drva", "power_on", "POST", f"/api/v1/drvas/{drva['id']}/actions/restart"
        )
    )
    for vm_id in vm_ids:
        after(
            site.kill_during(
                "remove_vm",
                "detach",
                "DELETE",
                f"/api/v1/protection-domains/{domain_id}/vms/{vm_id}",
            )
        )
    after(
        site.kill_during(
            "delete_domain", "remove_container", "DELETE", f"/api/v1/protection-domains/{domain_id}"
        )
    )
    # An appliance upgraded since the cluster was configured: its IO filter is older.
    appliance.stop()
    with_database(appliance, "UPDATE cluster SET iofilter_version = '4.0.0-1'")
    appliance.start()
    site.reconnect()
    cluster_path = f"/api/v1/clusters/{cluster['id']}"
    after(
        site.kill_during(
            "upgrade_cluster",
            "upgrade_filter",
            "POST",
            f"{cluster_path}/actions/upgrade",
            {"allow_maintenance_mode": True},
        )
    )
    assert site.get(cluster_path)["iofilter"]["version"] == IOFILTER_VERSION
    # A host that stops responding during a configure leaves an issue to resolve.
    site.act(f"{cluster_path}/actions/unconfigure", {"allow_maintenance_mode": True})
    unreachable = site.client.post(
        "/_emulator/faults", json={"target": "esx-02", "kind": "host_unreachable"}
    )
    assert unreachable.status_code == 201, unreachable.text
    site.act(f"{cluster_path}/actions/configure")
    assert site.get(cluster_path)["status"] == "partially_configured"
    assert site.client.delete(f"/_emulator/faults/{unreachable.json()['id']}").status_code == 204
    after(
        site.kill_during(
            "resolve_cluster_issues", "resolve", "POST", f"{cluster_path}/actions/resolve-issues"
        )
    )
    after(site.kill_during("repair_cluster", "repair", "POST", f"{cluster_path}/actions/repair"))
    # A host the filter failed on (it stopped responding during a configure) and that answers
    # again: Resolve-HostIssue retries it. (An issue of its connection alone would be cleared
    # by the host heartbeat before the request; a failed install stays until retried.)
    site.act(f"{cluster_path}/actions/unconfigure", {"allow_maintenance_mode": True})
    down = site.client.post(
        "/_emulator/faults", json={"target": "esx-02", "kind": "host_unreachable"}
    )
    assert down.status_code == 201, down.text
    site.act(f"{cluster_path}/actions/configure")
    assert site.client.delete(f"/_emulator/faults/{down.json()['id']}").status_code == 204
    host = one("/api/v1/hosts", name="esx-02")
    after(
        site.kill_during(
            "resolve_host_issue",
            "resolve",
            "POST",
            f"/api/v1/hosts/{host['id']}/actions/resolve-issue",
        )
    )
    assert site.get(cluster_path)["status"] == "configured"
    assert site.get("/api/v1/alarms", active="true", type="host_issue")["items"] == []
    after(
        site.kill_during(
            "unconfigure_cluster",
            "uninstall_filter",
            "POST",
            f"/api/v1/clusters/{cluster['id']}/actions/unconfigure",
            {"allow_maintenance_mode": True},
        )
    )
    vcenter = one("/api/v1/vcenters")
    vcenter_path = f"/api/v1/vcenters/{vcenter['id']}"
    for task_type, step, method, path in (
        (
            "scan_domains",
            "scan",
            "POST",
            f"/api/v1/storage-sites/{store.json()['id']}/actions/scan-domains",
        ),
        (
            "refresh_inventory",
            "discover_inventory",
            "POST",
            f"{vcenter_path}/actions/refresh-inventory",
        ),
        (
            "create_service_accounts",
            "grant",
            "POST",
            f"{vcenter_path}/actions/create-service-accounts",
        ),
        (
            "remove_service_accounts",
            "revoke",
            "POST",
            f"{vcenter_path}/actions/remove-service-accounts",
        ),
        (
            "unregister_plugin",
            "unregister_plugin",
            "POST",
            f"{vcenter_path}/actions/unregister-plugin",
        ),
        ("register_plugin", "register_plugin", "POST", f"{vcenter_path}/actions/register-plugin"),
        ("redeploy_drva", "create_vm", "POST", f"/api/v1/drvas/{drva['id']}/actions/redeploy"),
        (
            "delete_log_volume",
            "detach",
            "DELETE",
            f"/api/v1/drvas/{drva['id']}/replication-log-volumes/{volume_id}",
        ),
        ("delete_drva", "destroy_vm", "DELETE", f"/api/v1/drvas/{drva['id']}"),
        ("unregister_vcenter", "forget_vcenter", "DELETE", vcenter_path),
    ):
        after(site.kill_during(task_type, step, method, path))
    assert set(outcomes) == {
        "scan_domains",
        "refresh_inventory",
        "create_service_accounts",
        "remove_service_accounts",
        "unregister_plugin",
        "register_plugin",
        "redeploy_drva",
        "delete_log_volume",
        "delete_drva",
        "unregister_vcenter",
        "register_vcenter",
        "configure_cluster",
        "deploy_drva",
        "create_log_volume",
        "create_domain",
        "add_vms",
        "start_protection",
        "stop_protection",
        "restart_drva",
        "remove_vm",
        "delete_domain",
        "unconfigure_cluster",
        "release_domain",
        "upgrade_cluster",
        "resolve_cluster_issues",
        "repair_cluster",
        "resolve_host_issue",
    }
    # Resumable steps after a kill: every one of these finishes.
    assert set(outcomes.values()) <= {"succeeded", "failed"}
    assert outcomes["register_vcenter"] == outcomes["create_domain"] == "succeeded"
    assert {
        outcomes[t]
        for t in (
            "upgrade_cluster",
            "resolve_cluster_issues",
            "repair_cluster",
            "resolve_host_issue",
            "release_domain",
        )
    } == {"succeeded"}
    site.client.close()
