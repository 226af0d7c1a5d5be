"""`jetdr` against a fresh appliance (the pytest plugin's): the AVS install and uninstall flows
leave vCenter as they found it; a failed preflight stops the install."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from jetdr import Client
from jetdr.cli import main
from jetdr.pytest_plugin import RunningAppliance

INSTALL = [
    "install",
    "--cluster",
    "Cluster-1",
    "--protected-cluster",
    "Cluster-1",
    "--datastore",
    "vsanDatastore",
    "--network",
    "dhcp-segment",
    "--vcenter-hostname",
    "vcsa-01.protected.local",
    "--vcenter-username",
    "administrator@vsphere.local",
    "--vcenter-password",
    "VMware1!",
]


def jetdr(appliance: RunningAppliance, *argv: str) -> int:
    connection = [
        "--url",
        appliance.url,
        "--password",
        appliance.password,
        "--ca-file",
        str(appliance.ca_file),
    ]
    return main([*connection, *argv])


def vcenter_side(msa: Client) -> dict[str, Any]:
    found: dict[str, Any] = msa.get("/_emulator/vcenter")
    found.pop("vms")
    return found


def test_install_then_uninstall_leaves_vcenter_as_it_was(
    jetdr_msa: Client, jetdr_msa_appliance: RunningAppliance, capsys: pytest.CaptureFixture[str]
) -> None:
    before = vcenter_side(jetdr_msa)
    assert jetdr(jetdr_msa_appliance, *INSTALL, "--vm-name", "jetdr-msa") == 0
    printed = capsys.readouterr().out
    for step in (
        "register vCenter",
        "configure cluster Cluster-1",
        "create the elevated user and the REST user",
    ):
        assert f"{step}: succeeded" in printed, printed
    installed = vcenter_side(jetdr_msa)
    assert installed["extensions"] == ["com.jetstream.jetdr"]
    assert list(installed["iofilters"]) and "JSDR" in installed["roles"]
    assert {"VSPHERE.LOCAL\\jetdr-svc", "VSPHERE.LOCAL\\iofrest"} <= set(
        installed["global_permissions"]
    )

    assert jetdr(jetdr_msa_appliance, "uninstall", "--protected-cluster", "Cluster-1") == 0
    printed = capsys.readouterr().out
    for step in (
        "unconfigure cluster Cluster-1",
        "remove the elevated user and the REST user",
        "unregister vCenter",
    ):
        assert f"{step}: succeeded" in printed, printed
    assert vcenter_side(jetdr_msa) == before
    assert jetdr_msa.items("vcenters") == []


def test_a_failed_preflight_stops_the_install(
    jetdr_msa: Client, jetdr_msa_appliance: RunningAppliance, capsys: pytest.CaptureFixture[str]
) -> None:
    # A VM named web-01 exists: the MSA's name is taken.
    assert jetdr(jetdr_msa_appliance, *INSTALL, "--vm-name", "web-01") == 1
    captured = capsys.readouterr()
    assert "preflight failed" in captured.err
    assert "web-01" in captured.err
    assert jetdr_msa.items("vcenters") == []


def test_json_output_and_errors(
    jetdr_msa: Client, jetdr_msa_appliance: RunningAppliance, capsys: pytest.CaptureFixture[str]
) -> None:
    assert jetdr(jetdr_msa_appliance, "--json", "status") == 0
    assert json.loads(capsys.readouterr().out)["status"] == "ready"
    assert jetdr(jetdr_msa_appliance, "failover", "nope") == 5  # an API error
    assert "not_found" in capsys.readouterr().err
    assert main(["--url", jetdr_msa_appliance.url, "status"]) == 2


def test_subscription_status_and_alarms(
    jetdr_msa: Client, jetdr_msa_appliance: RunningAppliance, capsys: pytest.CaptureFixture[str]
) -> None:
    assert jetdr(jetdr_msa_appliance, "--json", "subscription", "--set", "jsdr-42") == 0
    assert json.loads(capsys.readouterr().out)["status"] == "active"
    assert jetdr(jetdr_msa_appliance, "subscription", "--set", "not an id") == 5
    assert "validation_error" in capsys.readouterr().err
    # The subscription server reports it expired 20 days ago: past its 14 days of grace.
    now = dt.datetime.fromisoformat(jetdr_msa.get("/_emulator/clock")["now"])
    expired = (now - dt.timedelta(days=20)).isoformat()
    jetdr_msa.put("/_emulator/subscription", {"expires_at": expired})
    assert jetdr(jetdr_msa_appliance, "--json", "subscription") == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["subscription_id"], shown["status"]) == ("jsdr-42", "expired")
    assert jetdr(jetdr_msa_appliance, "alarms", "--active") == 0
    table = capsys.readouterr().out
    # (80 columns here: rich folds the cells.)
    assert "critical" in table and "subscription" in table and "jsdr-42" in table, table
    assert jetdr(jetdr_msa_appliance, "--json", "alarms", "--active") == 0
    (alarm,) = json.loads(capsys.readouterr().out)
    assert (alarm["type"], alarm["entity"]["id"]) == ("subscription_expired", "jsdr-42")
    assert jetdr(jetdr_msa_appliance, "--json", "subscription", "--remove") == 0
    assert json.loads(capsys.readouterr().out)["status"] == "none"
    assert jetdr(jetdr_msa_appliance, "--json", "alarms", "--active") == 0
    assert json.loads(capsys.readouterr().out) == []
