"""`jetdr avs <cmdlet>` over HTTPS against the pytest plugin's appliance: the install cmdlets
deploy the MSA VM into vCenter and set JetStream DR up, uninstall leaves vCenter as it was, and
every day-2 cmdlet acts through the appliance (its streams, exit status and end state)."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from jetdr import Client
from jetdr.cli import main
from jetdr.pytest_plugin import RunningAppliance

VCENTER = [
    "--vcenter-hostname",
    "vcsa-01.protected.local",
    "--vcenter-username",
    "administrator@vsphere.local",
    "--vcenter-password",
    "VMware1!",
]
DEPLOY = [
    "--ProtectedCluster",
    "Cluster-1",
    "--Cluster",
    "Cluster-1",
    "--Datastore",
    "vsanDatastore",
    "--Network",
    "dhcp-segment",
    "--VMName",
    "jetdr-msa",
    "--HostName",
    "msa.protected.local",
]


def jetdr(appliance: RunningAppliance, *argv: str) -> int:
    connection = ["--url", appliance.url, "--password", appliance.password]
    return main([*connection, "--ca-file", str(appliance.ca_file), *argv])


def vcenter_side(msa: Client) -> dict[str, Any]:
    found: dict[str, Any] = msa.get("/_emulator/vcenter")
    found["virtual_machines"] = [
        (vm["name"], vm["power_state"], vm["cpu"], vm["memory_mb"])
        for vm in found["virtual_machines"]
    ]
    return found


def msa_vm(msa: Client) -> dict[str, Any]:
    machines = msa.get("/_emulator/vcenter")["virtual_machines"]
    return next(vm for vm in machines if vm["name"] == "jetdr-msa")


def execution(msa: Client, name: str) -> dict[str, Any]:
    found: dict[str, Any] = msa.get(f"/api/v1/avs/script-executions/{name}")
    return found


def test_install_with_dhcp_then_uninstall_leaves_vcenter_as_it_was(
    jetdr_msa: Client, jetdr_msa_appliance: RunningAppliance, capsys: pytest.CaptureFixture[str]
) -> None:
    before = vcenter_side(jetdr_msa)
    code = jetdr(
        jetdr_msa_appliance,
        "avs",
        "Install-JetDRWithDHCP",
        "--execution-name",
        "install-1",
        *DEPLOY,
        *VCENTER,
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "Succeeded (exit 0)" in printed
    done = execution(jetdr_msa, "install-1")
    assert done["provisioning_state"] == "Succeeded" and done["errors"] == []
    assert done["named_outputs"]["msa_vm"] == "jetdr-msa"
    assert any("deploying the MSA VM jetdr-msa" in line for line in done["information"])
    # The credential's password is never returned.
    credential = next(p for p in done["parameters"] if p["type"] == "Credential")
    assert credential == {
        "name": "Credential",
        "type": "Credential",
        "value": None,
        "username": "root",
    }
    assert jetdr_msa_appliance.password not in json.dumps(done)

    vm = msa_vm(jetdr_msa)
    assert vm["power_state"] == "poweredOn" and vm["ip"] == done["named_outputs"]["msa_ip"]
    installed = vcenter_side(jetdr_msa)
    assert installed["extensions"] == ["com.jetstream.jetdr"]
    assert list(installed["iofilters"]) and "JSDR" in installed["roles"]
    assert {"VSPHERE.LOCAL\\jetdr-svc", "VSPHERE.LOCAL\\iofrest"} <= set(
        installed["global_permissions"]
    )
    appliance = jetdr_msa.get("/api/v1/appliance")
    assert (appliance["vm_name"], appliance["hostname"]) == ("jetdr-msa", "msa.protected.local")
    assert appliance["ip"] == vm["ip"]
    clusters = jetdr_msa.get("/api/v1/clusters")["items"]
    assert [c["status"] for c in clusters] == ["configured"]

    # Installing again: the preflight finds the MSA VM's name taken and the plugin registered.
    code = jetdr(jetdr_msa_appliance, "avs", "install-jetdr-with-dhcp", *DEPLOY, *VCENTER)
    out, err = capsys.readouterr()
    assert code == 1
    assert "ERROR: vm_name_unique: a VM named jetdr-msa already exists" in out
    assert "ERROR: plugin_not_registered" in out
    assert "execution failed: install preflight failed" in err

    msa_ip = appliance["ip"]
    code = jetdr(
        jetdr_msa_appliance,
        "avs",
        "uninstall-jetdr",
        "--protected-cluster",
        "Cluster-1",
        "--ms-ip",
        msa_ip,
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "MSA VM jetdr-msa deleted" in printed
    assert vcenter_side(jetdr_msa) == before
    assert jetdr_msa.get("/api/v1/vcenters")["items"] == []
    assert jetdr_msa.get("/api/v1/appliance")["vm_name"] is None


def test_no_wait_wait_and_tables(
    jetdr_msa: Client, jetdr_msa_appliance: RunningAppliance, capsys: pytest.CaptureFixture[str]
) -> None:
    assert jetdr(jetdr_msa_appliance, "avs", "install-jetdr-with-dhcp", *DEPLOY, *VCENTER) == 0
    capsys.readouterr()
    code = jetdr(
        jetdr_msa_appliance,
        "--no-wait",
        "--json",
        "drva-deploy",
        "--name",
        "drva",
        "--cluster",
        "Cluster-1",
        "--datastore",
        "vsanDatastore",
        "--network",
        "dhcp-segment",
    )
    started = json.loads(capsys.readouterr().out)
    assert code == 0 and started["status"] in ("queued", "running")
    assert jetdr(jetdr_msa_appliance, "--json", "wait", started["id"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "succeeded"
    assert jetdr(jetdr_msa_appliance, "drvas") == 0
    table = capsys.readouterr().out
    assert "drva" in table and "running" in table
    # A run-command submitted without waiting is there to follow later.
    ip = jetdr_msa.get("/api/v1/appliance")["ip"]
    code = jetdr(
        jetdr_msa_appliance,
        "avs",
        "Enable-JetDRSshd",
        "--ms-ip",
        ip,
        "--no-wait",
        "--execution-name",
        "sshd",
    )
    assert code == 0 and "as execution sshd" in capsys.readouterr().out
    assert jetdr(jetdr_msa_appliance, "avs", "executions") == 0
    assert "sshd" in capsys.readouterr().out
    # Wrong MSA credential: the execution fails and so does the command, with its reason.
    code = jetdr(
        jetdr_msa_appliance, "avs", "enable-jetdr-sshd", "--ms-ip", ip, "--msa-password", "nope"
    )
    out, err = capsys.readouterr()
    assert code == 1 and "ERROR: the MSA refused the credential of root" in out, out
    assert "execution failed: the MSA refused the credential" in err


def test_shell_completion_knows_commands_cmdlets_and_their_options(tmp_path: Path) -> None:
    script = tmp_path / "jetdr.bash"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["--password", "x", "completion", "bash"]) == 0
    script.write_text(buffer.getvalue())

    def complete(*words: str) -> list[str]:
        line = " ".join(f"'{w}'" for w in words)
        shell = (
            f"source {script}; COMP_WORDS=(jetdr {line}); COMP_CWORD={len(words)}; "
            '_jetdr; printf "%s\\n" "${COMPREPLY[@]}"'
        )
        done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=True)
        return done.stdout.split()

    assert complete("dom") == ["domain-create", "domain-add-vms", "domain-vms", "domain-delete"]
    assert "Install-JetDRWithDHCP" in complete("avs", "Install-JetDRWith")
    assert complete("avs", "uninstall-jetdr", "--prot") == ["--protected-cluster"]
    assert complete("--json", "failover", "erp", "--ty") == ["--type"]
