"""The AVS guide's whole story through `jetdr` alone, against two appliance processes over HTTPS
sharing an Azurite storage site: preflight and install on both sites (the MSA VMs deployed),
enable a second cluster, DRVAs with log volumes, the storage site, recovery settings, peers, a
domain protected, scanned and imported at the recovery site, a test failover, a failover, a
failback, reports, then everything removed and JetStream DR uninstalled from both vCenters. The
end state of each step is read through the API."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jetdr.cli import main
from tests.conftest import ROOT_PASSWORD
from tests.e2e.conftest import ServedAppliance
from tests.e2e.dr_pair import CLOCK, FAST, Site, all_protected
from tests.peers.objectstores import AzuritePeer

pytestmark = pytest.mark.e2e

DOMAIN_VMS = ("app-01", "web-01", "cache-01")


class Shell:
    """`jetdr` pointed at one site; `--json` where the test reads what it printed."""

    def __init__(self, site: Site, capsys: pytest.CaptureFixture[str]) -> None:
        self.site = site
        self.capsys = capsys
        self.connection = [
            "--url",
            site.served.url,
            "--password",
            ROOT_PASSWORD,
            "--ca-file",
            str(site.served.data_dir / "tls" / "cert.pem"),
        ]

    def __call__(self, *argv: str) -> str:
        self.capsys.readouterr()
        code = main([*self.connection, *argv])
        out, err = self.capsys.readouterr()
        assert code == 0, f"jetdr {' '.join(argv)} -> {code}\n{out}\n{err}"
        return out

    def json(self, *argv: str) -> Any:
        return json.loads(self("--json", *argv))


def vcenter_args(hostname: str) -> list[str]:
    return [
        "--vcenter-hostname",
        hostname,
        "--vcenter-username",
        "administrator@vsphere.local",
        "--vcenter-password",
        "VMware1!",
    ]


def install(jetdr: Shell, vcenter: str, cluster: str, *static: str) -> str:
    """Preflight then install; returns the MSA address the install reports."""
    where = ["--cluster", cluster, "--datastore", "vsanDatastore", "--network", "dhcp-segment"]
    where += ["--protected-cluster", cluster, "--vm-name", "jetdr-msa"]
    jetdr("avs", "Invoke-PreflightJetDRInstall", *where, *vcenter_args(vcenter))
    cmdlet = "install-jetdr-with-static-ip" if static else "install-jetdr-with-dhcp"
    printed = jetdr(
        "avs",
        cmdlet,
        "--execution-name",
        "install",
        *where,
        "--host-name",
        f"msa.{vcenter.split('.', 1)[1]}",
        *static,
        *vcenter_args(vcenter),
    )
    assert "Succeeded (exit 0)" in printed
    execution = jetdr.json("avs", "show", "install")
    return str(execution["named_outputs"]["msa_ip"])


def set_up(jetdr: Shell, cluster: str, azurite: AzuritePeer) -> None:
    jetdr(
        "drva-deploy",
        "--name",
        "drva",
        "--cluster",
        cluster,
        "--datastore",
        "vsanDatastore",
        "--network",
        "dhcp-segment",
    )
    jetdr("log-volume-add", "drva", "--size-gb", "200", "--datastore", "vsanDatastore")
    jetdr(
        "storage-site-add",
        "--name",
        "blob",
        "--type",
        "azure_blob",
        "--endpoint",
        azurite.endpoint,
        "--account-name",
        azurite.account,
        "--access-key",
        azurite.key,
    )
    jetdr(
        "recovery-settings",
        "--cluster",
        cluster,
        "--datastore",
        "vsanDatastore",
        "--network",
        "dhcp-segment",
    )


def test_the_avs_drill_through_the_cli(
    serve: Callable[..., ServedAppliance],
    azurite: AzuritePeer,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    served_a = serve(name="site-a", JETDR_SITE_NAME="protected", **CLOCK, **FAST)
    served_b = serve(
        name="site-b",
        # Two clusters of four hosts: the install preflight wants four.
        JETDR_TOPOLOGY="avs-recovery",
        JETDR_SITE_NAME="recovery",
        **CLOCK,
        **FAST,
    )
    served_a.start()
    served_b.start()
    a, b = Site(served_a), Site(served_b)
    at_a, at_b = Shell(a, capsys), Shell(b, capsys)
    clean_a = a.get("/_emulator/vcenter")

    # Install on both sites; the recovery site enables its second cluster for recoveries.
    msa_a = install(at_a, "vcsa-01.protected.local", "Cluster-1")
    msa_b = install(
        at_b,
        "vcsa-01.recovery.local",
        "AVS-Cluster-1",
        "--ms-ip",
        "10.20.1.50",
        "--netmask",
        "255.255.255.0",
        "--gateway",
        "10.20.1.1",
        "--dns",
        "10.20.0.2",
    )
    assert msa_b == "10.20.1.50"
    at_b("avs", "Enable-JetDRForCluster", "--protected-cluster", "AVS-Cluster-2", "--ms-ip", msa_b)
    clusters = {c["name"]: c["status"] for c in b.get("/api/v1/clusters")["items"]}
    assert clusters == {"AVS-Cluster-1": "configured", "AVS-Cluster-2": "configured"}
    for site in (a, b):
        assert [
            v["name"]
            for v in site.get("/_emulator/vcenter")["virtual_machines"]
            if v["name"] == "jetdr-msa"
        ]

    set_up(at_a, "Cluster-1", azurite)
    set_up(at_b, "AVS-Cluster-2", azurite)
    for here, there in ((at_a, b), (at_b, a)):
        here(
            "peer-add",
            "--peer-url",
            there.served.url,
            "--peer-password",
            ROOT_PASSWORD,
            "--certificate-sha256",
            there.certificate_sha256(),
        )

    # Protect at A.
    at_a("domain-create", "erp", "--drva", "drva", "--storage-site", "blob")
    at_a("domain-add-vms", "erp", *DOMAIN_VMS)
    at_a("start-protection", "erp", "--until-protected")
    domain_id = a.named("protection-domains", "erp")["id"]
    assert all_protected(a, domain_id)
    domains = at_a.json("protection-domains")
    assert [(d["name"], d["mode"]) for d in domains] == [("erp", "protecting")]

    # Import at B, test, fail over, fail back.
    scanned = at_b.json("scan", "blob")
    assert [(d["name"], d["owner_site_name"], d["importable"]) for d in scanned[-1]] == [
        ("erp", "protected", True)
    ]
    at_b("import", "erp", "--storage-site", "blob", "--drva", "drva")
    assert b.get(f"/api/v1/protection-domains/{domain_id}")["mode"] == "imported"
    runbook = tmp_path / "runbook.json"
    runbook.write_text(
        json.dumps(
            {
                "vms": [{"vm": "cache-01"}],
                "groups": [
                    {"name": "app", "order": 1, "vms": [{"vm": "app-01", "memory_gb": 8}]},
                    {"name": "web", "order": 2, "delay_seconds": 60, "vms": [{"vm": "web-01"}]},
                ],
            }
        )
    )
    at_b("runbook", "erp", "--file", str(runbook))
    at_b("test-failover", "erp")
    assert b.get(f"/api/v1/protection-domains/{domain_id}")["mode"] == "test_failover"
    at_b("stop-test-failover", "erp", "--summary", "drill: every VM answered")
    at_b("failover", "erp")
    domain = b.get(f"/api/v1/protection-domains/{domain_id}")
    assert (domain["mode"], domain["owner_site_name"]) == ("running_in_failover", "recovery")
    recovered = {vm["name"] for vm in b.get("/api/v1/vms")["items"]}
    assert set(DOMAIN_VMS) <= recovered
    failover = next(
        r for r in b.get("/api/v1/recovery-reports")["items"] if r["kind"] == "failover"
    )
    stages = [(stage["group"], stage["vms"]) for stage in failover["runbook"]]
    assert stages == [(None, ["cache-01"]), ("app", ["app-01"]), ("web", ["web-01"])]
    at_a("failback", "erp", "--max-delay", "600")
    domain = a.get(f"/api/v1/protection-domains/{domain_id}")
    assert (domain["mode"], domain["owner_site_name"]) == ("protecting", "protected")
    reports = at_b.json("reports")
    assert sorted(r["kind"] for r in reports) == ["failover", "test_failover"]
    failback = at_a.json("reports")
    assert [(r["kind"], r["status"]) for r in failback] == [("failback", "succeeded")]
    assert at_a.json("report", failback[0]["id"])["domain_id"] == domain_id

    # Take it all down and uninstall from both vCenters.
    at_a("stop-protection", "erp")
    for jetdr in (at_a, at_b):
        jetdr("domain-delete", "erp")
        jetdr("drva-delete", "drva")
    at_a("avs", "Uninstall-JetDR", "--protected-cluster", "Cluster-1", "--ms-ip", msa_a)
    at_b("avs", "Disable-JetDRForCluster", "--protected-cluster", "AVS-Cluster-2", "--ms-ip", msa_b)
    at_b("avs", "Uninstall-JetDR", "--protected-cluster", "AVS-Cluster-1", "--ms-ip", msa_b)
    for site in (a, b):
        assert site.get("/api/v1/vcenters")["items"] == []
        left = site.get("/_emulator/vcenter")
        assert (left["extensions"], left["iofilters"], left["global_permissions"]) == ([], {}, {})
        assert "JSDR" not in left["roles"]
        names = {vm["name"] for vm in left["virtual_machines"]}
        assert "jetdr-msa" not in names and not any(n.startswith("drva") for n in names)
    assert a.get("/_emulator/vcenter")["roles"] == clean_a["roles"]
    executions = at_a.json("avs", "executions")
    assert {e["provisioning_state"] for e in executions} == {"Succeeded"}
