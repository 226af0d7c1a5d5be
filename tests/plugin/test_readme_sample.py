"""The README's sample integration test, written only against the pytest plugin (the README
shows this function; `test_the_readme_shows_this_sample` keeps the two the same)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jetdr import Client


# --- README sample start ---
def test_an_object_store_outage_raises_the_bitmap_alarm(jetdr_msa: Client, tmp_path: Path) -> None:
    msa = jetdr_msa
    msa.run(
        "/api/v1/vcenters",
        {
            "hostname": "vcsa-01.protected.local",
            "username": "administrator@vsphere.local",
            "password": "VMware1!",
        },
    )
    cluster = msa.find("clusters", "Cluster-1")
    msa.run(f"/api/v1/clusters/{cluster.id}/actions/configure")
    datastore = next(msa.pages("/api/v1/datastores", name="vsanDatastore"))
    network = next(msa.pages("/api/v1/networks", name="dhcp-segment"))
    msa.run(
        "/api/v1/drvas",
        {
            "name": "drva",
            "cluster_id": cluster.id,
            "datastore_id": datastore["id"],
            "network_id": network["id"],
        },
    )
    drva = msa.find("drvas", "drva")
    volume = msa.run(
        f"/api/v1/drvas/{drva.id}/replication-log-volumes",
        {"type": "vmdk", "size_gb": 10, "datastore_id": datastore["id"]},
    )
    site = msa.post(
        "/api/v1/storage-sites", {"name": "store", "type": "local", "path": str(tmp_path)}
    )
    domain = msa.run(
        "/api/v1/protection-domains",
        {
            "name": "web",
            "storage_site_id": site["id"],
            "drva_id": drva.id,
            "replication_log_volume_id": volume.result["volume_id"],
        },
    ).entity.id
    vms = [vm["id"] for vm in msa.pages("/api/v1/vms") if vm["name"] in ("web-01", "web-02")]
    msa.run(f"/api/v1/protection-domains/{domain}/vms", {"vm_ids": vms})
    msa.run(f"/api/v1/protection-domains/{domain}/actions/start-protection")

    msa.put("/_emulator/clock", {"mode": "manual"})
    msa.advance(900)  # the initial sync
    assert msa.get(f"/api/v1/protection-domains/{domain}")["health"] == "ok"
    msa.add_fault(target="*", kind="objectstore_outage")
    msa.advance(3600)  # 30 minutes unreachable: bitmap mode; 5 more: the alarm
    alarms = msa.items("alarms", active="true", entity_id=domain)
    assert "bitmap" in {alarm.type for alarm in alarms}


# --- README sample end ---


def test_the_readme_shows_this_sample() -> None:
    source = Path(__file__).read_text()
    sample = source.split("# --- README sample start ---\n")[1].split(
        "# --- README sample end ---"
    )[0]
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert sample.strip() in readme


def test_the_plugin_serves_a_separate_process(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_status(jetdr_msa):
            assert jetdr_msa.get("/api/v1/status")["status"] == "ready"
            assert jetdr_msa.items("vcenters") == []
        """
    )
    outcome = pytester.runpytest_subprocess("--jetdr-msa-mode=subprocess", "-p", "no:cacheprovider")
    outcome.assert_outcomes(passed=1)
