from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from app.adapters.vcenter.topology import BUILTIN_DIR
from app.settings import Settings
from tests.conftest import VCENTER, Appliance, start_appliance

INSTALL = {
    "cluster": "Cluster-1",
    "protected_cluster": "Cluster-1",
    "vm_name": "jetdr-msa",
    "datastore": "vsanDatastore",
    "network": "VM Network",
}


def _status(result: dict[str, Any]) -> dict[str, str]:
    return {check["name"]: check["status"] for check in result["checks"]}


async def test_install_preflight_before_registration(appliance: Appliance) -> None:
    response = await appliance.client.post(
        "/api/v1/preflight/install", json={**INSTALL, "vcenter": VCENTER}
    )
    assert response.status_code == 200
    result = response.json()
    assert result["passed"] is True, result
    assert set(_status(result).values()) == {"passed"}


async def test_install_preflight_lists_each_failure(appliance: Appliance) -> None:
    body = {
        **INSTALL,
        "vm_name": "db-01",
        "datastore": "nope",
        "network": "nowhere",
        "cluster": "Cluster-9",
        "vcenter": VCENTER,
    }
    result = (await appliance.client.post("/api/v1/preflight/install", json=body)).json()
    assert result["passed"] is False
    failed = {name for name, status in _status(result).items() if status == "failed"}
    assert failed == {"cluster_exists", "vm_name_unique", "datastore_exists", "network_exists"}


async def test_install_preflight_after_registration_sees_the_plugin(registered: Appliance) -> None:
    result = (await registered.client.post("/api/v1/preflight/install", json=INSTALL)).json()
    assert _status(result)["plugin_not_registered"] == "failed"
    assert result["passed"] is False


async def test_without_vcenter_the_connection_check_fails(appliance: Appliance) -> None:
    result = (await appliance.client.post("/api/v1/preflight/install", json=INSTALL)).json()
    assert result["passed"] is False
    assert _status(result) == {"vcenter_connection": "failed"}
    bad = {**INSTALL, "vcenter": {**VCENTER, "password": "wrong"}}
    result = (await appliance.client.post("/api/v1/preflight/install", json=bad)).json()
    assert "vcenter_auth_failed" in result["checks"][0]["message"]


async def test_three_host_cluster_fails_the_host_count_check(
    make_settings: Callable[..., Settings],
) -> None:
    async with start_appliance(make_settings(topology="recovery")) as appliance:
        body = {
            **INSTALL,
            "cluster": "Pilot-1",
            "protected_cluster": "Pilot-1",
            "vcenter": {**VCENTER, "hostname": "vcsa-01.recovery.local"},
        }
        result = (await appliance.client.post("/api/v1/preflight/install", json=body)).json()
        check = next(c for c in result["checks"] if c["name"] == "protected_cluster_host_count")
        assert check["status"] == "failed"
        assert check["message"] == "cluster Pilot-1 has 3 hosts; at least 4 are required"
        assert result["passed"] is False


async def test_uninstall_and_enable_cluster_preflight(registered: Appliance) -> None:
    client = registered.client
    result = (
        await client.post("/api/v1/preflight/uninstall", json={"protected_cluster": "Cluster-1"})
    ).json()
    assert result["passed"] is True
    assert _status(result)["vcenter_registered"] == "passed"
    enable = (
        await client.post(
            "/api/v1/preflight/enable-cluster", json={"protected_cluster": "Cluster-1"}
        )
    ).json()
    assert enable["passed"] is True
    missing = (
        await client.post("/api/v1/preflight/uninstall", json={"protected_cluster": "Nope"})
    ).json()
    assert missing["passed"] is False
    assert _status(missing)["protected_cluster_exists"] == "failed"


async def test_uninstall_preflight_without_registration(appliance: Appliance) -> None:
    result = (
        await appliance.client.post(
            "/api/v1/preflight/uninstall", json={"protected_cluster": "Cluster-1"}
        )
    ).json()
    assert _status(result)["vcenter_registered"] == "failed"
    assert result["passed"] is False


async def test_mixed_versions_fail_enable_cluster(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    spec = yaml.safe_load((BUILTIN_DIR / "protected.yaml").read_text())
    spec["datacenters"][0]["clusters"][0]["hosts"][3]["esxi_version"] = "7.0.2"
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(spec))
    async with start_appliance(make_settings(topology=str(path))) as appliance:
        await appliance.register_vcenter()
        result = (
            await appliance.client.post(
                "/api/v1/preflight/enable-cluster", json={"protected_cluster": "Cluster-1"}
            )
        ).json()
        assert _status(result)["protected_cluster_esxi_versions"] == "failed"
        assert "esx-04 7.0.2" in next(
            c["message"] for c in result["checks"] if c["name"] == "protected_cluster_esxi_versions"
        )
