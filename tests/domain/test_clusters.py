"""The cluster IO-filter lifecycle against the simulated vCenter."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from app.adapters.vcenter.topology import BUILTIN_DIR
from app.domain.plugin.package import IOFILTER_VERSION, build_vib
from app.settings import Settings
from tests.conftest import Appliance, start_appliance


async def _cluster(appliance: Appliance) -> dict[str, Any]:
    items = (await appliance.client.get("/api/v1/clusters")).json()["items"]
    return dict(items[0])


async def _act(appliance: Appliance, cluster_id: str, action: str, **body: Any) -> dict[str, Any]:
    response = await appliance.client.post(
        f"/api/v1/clusters/{cluster_id}/actions/{action}", json=body or None
    )
    assert response.status_code == 202, response.text
    return await appliance.wait_task(response.json()["id"])


async def test_configure_installs_the_filter_on_every_host(registered: Appliance) -> None:
    cluster = await _cluster(registered)
    task = await _act(registered, cluster["id"], "configure")
    assert task["status"] == "succeeded", task
    assert task["result"]["status"] == "configured"
    configured = (await registered.client.get(f"/api/v1/clusters/{cluster['id']}")).json()
    assert configured["status"] == "configured"
    assert configured["iofilter"] == {"version": IOFILTER_VERSION, "status": "installed"}
    assert {h["iofilter_status"] for h in configured["hosts"]} == {"installed"}
    filters = (await registered.simulator.state()).iofilters[cluster["moref"]]
    assert (
        filters[0].vib_url
        == f"https://msa.test:8443/iofilter/jetstream-iofilter_{IOFILTER_VERSION}.vib"
    )
    again = await registered.client.post(f"/api/v1/clusters/{cluster['id']}/actions/resolve-issues")
    assert again.status_code == 409
    assert again.json()["error_code"] == "invalid_state"


async def test_failing_host_leaves_the_cluster_partially_configured(registered: Appliance) -> None:
    cluster = await _cluster(registered)
    await registered.simulator.fail_hosts(["esx-03"])
    task = await _act(registered, cluster["id"], "configure")
    assert task["result"]["status"] == "partially_configured"
    detail = (await registered.client.get(f"/api/v1/clusters/{cluster['id']}")).json()
    assert detail["status"] == "partially_configured"
    failed = [h for h in detail["hosts"] if h["iofilter_status"] == "failed"]
    assert [h["name"] for h in failed] == ["esx-03"]
    issues = (await registered.client.get(f"/api/v1/clusters/{cluster['id']}/issues")).json()
    assert issues["operation"] == "install"
    assert [i["host"] for i in issues["items"]] == ["esx-03"]
    assert "esx-03" in issues["items"][0]["issue"]
    await registered.simulator.fail_hosts([])
    resolved = await _act(registered, cluster["id"], "resolve-issues")
    assert resolved["result"]["status"] == "configured"
    assert (await registered.client.get(f"/api/v1/clusters/{cluster['id']}/issues")).json()[
        "items"
    ] == []


async def test_unconfigure_needs_maintenance_consent_then_goes_host_by_host(
    registered: Appliance,
) -> None:
    cluster = await _cluster(registered)
    await _act(registered, cluster["id"], "configure")
    refused = await registered.client.post(f"/api/v1/clusters/{cluster['id']}/actions/unconfigure")
    assert refused.status_code == 409
    assert refused.json()["error_code"] == "maintenance_mode_required"
    vcenter_id = cluster["vcenter_id"]
    busy = await registered.client.delete(f"/api/v1/vcenters/{vcenter_id}")
    assert busy.status_code == 409
    task = await _act(registered, cluster["id"], "unconfigure", allow_maintenance_mode=True)
    assert task["result"]["status"] == "unconfigured"
    detail = (await registered.client.get(f"/api/v1/clusters/{cluster['id']}")).json()
    assert detail["status"] == "unconfigured"
    assert {h["iofilter_status"] for h in detail["hosts"]} == {"not_installed"}
    state = await registered.simulator.state()
    assert cluster["moref"] not in state.iofilters
    windows = sorted((m.entered_at, m.exited_at) for m in state.maintenance)
    assert len(windows) == 4
    for (_, exited), (entered, _) in itertools.pairwise(windows):
        assert exited is not None and exited <= entered


async def test_mixed_esxi_versions_are_refused(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    spec = yaml.safe_load((BUILTIN_DIR / "protected.yaml").read_text())
    spec["datacenters"][0]["clusters"][0]["hosts"][1]["esxi_build"] = "20036589"
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(spec))
    async with start_appliance(make_settings(topology=str(path))) as appliance:
        assert (await appliance.register_vcenter())["status"] == "succeeded"
        cluster = await _cluster(appliance)
        refused = await appliance.client.post(f"/api/v1/clusters/{cluster['id']}/actions/configure")
        assert refused.status_code == 422
        assert refused.json()["error_code"] == "mixed_esxi_versions"
        assert len(refused.json()["details"]) == 4
        assert (await _cluster(appliance))["status"] == "unconfigured"


async def test_cim_disabled_host_fails_with_its_issue(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    spec = yaml.safe_load((BUILTIN_DIR / "protected.yaml").read_text())
    spec["datacenters"][0]["clusters"][0]["hosts"][0]["cim_enabled"] = False
    path = tmp_path / "cim.yaml"
    path.write_text(yaml.safe_dump(spec))
    async with start_appliance(make_settings(topology=str(path))) as appliance:
        await appliance.register_vcenter()
        cluster = await _cluster(appliance)
        task = await _act(appliance, cluster["id"], "configure")
        assert task["result"]["status"] == "partially_configured"
        assert "CIM" in task["result"]["issues"][0]["issue"]
        assert task["result"]["issues"][0]["host"] == "esx-01"


async def test_concurrent_configure_exactly_one_wins(registered: Appliance) -> None:
    import asyncio

    cluster = await _cluster(registered)
    path = f"/api/v1/clusters/{cluster['id']}/actions/configure"
    responses = await asyncio.gather(*(registered.client.post(path) for _ in range(3)))
    assert sorted(r.status_code for r in responses) == [202, 409, 409]


async def test_host_joining_a_configured_cluster_gets_the_filter(registered: Appliance) -> None:
    from app.adapters.vcenter.port import HostInfo

    cluster = await _cluster(registered)
    await _act(registered, cluster["id"], "configure")

    def add_host(state: Any) -> None:
        state.hosts.append(
            HostInfo(
                "host-99", "esx-05", cluster["moref"], "7.0.3", "19193900", True, False, "connected"
            )
        )

    await registered.simulator.mutate(add_host)
    refresh = await registered.client.post(
        f"/api/v1/vcenters/{cluster['vcenter_id']}/actions/refresh-inventory"
    )
    assert (await registered.wait_task(refresh.json()["id"]))["status"] == "succeeded"
    detail = (await registered.client.get(f"/api/v1/clusters/{cluster['id']}")).json()
    assert detail["host_count"] == 5
    assert {h["name"]: h["iofilter_status"] for h in detail["hosts"]}["esx-05"] == "installed"
    assert detail["status"] == "configured"


async def test_upgrade_needs_a_different_version(registered: Appliance) -> None:
    cluster = await _cluster(registered)
    await _act(registered, cluster["id"], "configure")
    current = await registered.client.post(
        f"/api/v1/clusters/{cluster['id']}/actions/upgrade", json={"allow_maintenance_mode": True}
    )
    assert current.status_code == 409
    assert current.json()["error_code"] == "already_current"


async def test_vib_and_plugin_manifest_are_served(appliance: Appliance) -> None:
    vib = await appliance.client.get(
        f"/iofilter/jetstream-iofilter_{IOFILTER_VERSION}.vib", auth=None
    )
    assert vib.status_code == 200
    assert vib.content == build_vib(IOFILTER_VERSION)
    assert vib.content.startswith(b"!<arch>\n")
    assert b"<version>" + IOFILTER_VERSION.encode() in vib.content
    assert (await appliance.client.get("/iofilter/other_1.0.vib", auth=None)).status_code == 404
    manifest = (await appliance.client.get("/plugin/plugin.json", auth=None)).json()
    assert manifest["key"] == "com.jetstream.jetdr"
    assert manifest["objects"]["Datacenter"]["configure"]["views"][0]["uri"].startswith(
        "https://msa.test:8443/"
    )


async def _seed_old_filter(appliance: Appliance, cluster: dict[str, Any]) -> None:
    from app.adapters.vcenter.port import ClusterFilter, HostFilterState

    hosts = (await appliance.client.get(f"/api/v1/clusters/{cluster['id']}")).json()["hosts"]
    old = ClusterFilter(
        filter_id="JetStream_bootbank_jetstream-iofilter_4.3.0-1",
        name="jetstream-iofilter",
        vendor="JetStream Software",
        version="4.3.0-1",
        op_type="install",
        vib_url="https://old-msa/iofilter/jetstream-iofilter_4.3.0-1.vib",
        hosts=tuple(HostFilterState(h["moref"], True, "4.3.0-1", None) for h in hosts),
    )

    def install_old(state: Any) -> None:
        state.iofilters[cluster["moref"]] = [old]

    await appliance.simulator.mutate(install_old)


async def test_configure_over_another_version_is_an_upgrade(registered: Appliance) -> None:
    cluster = await _cluster(registered)
    await _seed_old_filter(registered, cluster)
    refused = await _act(registered, cluster["id"], "configure")
    assert refused["status"] == "failed"
    assert refused["error"]["error_code"] == "maintenance_mode_required"
    assert (await _cluster(registered))["status"] == "unconfigured"
    upgraded = await _act(registered, cluster["id"], "configure", allow_maintenance_mode=True)
    assert upgraded["result"]["status"] == "configured"
    assert upgraded["result"]["upgrade_from"] == "4.3.0-1"
    detail = (await registered.client.get(f"/api/v1/clusters/{cluster['id']}")).json()
    assert detail["iofilter"]["version"] == IOFILTER_VERSION
    assert len((await registered.simulator.state()).maintenance) == 4


async def test_upgrade_action_moves_every_host_to_the_served_version(registered: Appliance) -> None:
    cluster = await _cluster(registered)
    await _seed_old_filter(registered, cluster)
    refresh = await registered.client.post(
        f"/api/v1/vcenters/{cluster['vcenter_id']}/actions/refresh-inventory"
    )
    await registered.wait_task(refresh.json()["id"])
    found = (await registered.client.get(f"/api/v1/clusters/{cluster['id']}")).json()
    assert found["status"] == "configured"
    assert found["iofilter"]["version"] == "4.3.0-1"
    refused = await registered.client.post(f"/api/v1/clusters/{cluster['id']}/actions/upgrade")
    assert refused.status_code == 409
    assert refused.json()["error_code"] == "maintenance_mode_required"
    task = await _act(registered, cluster["id"], "upgrade", allow_maintenance_mode=True)
    assert task["result"]["status"] == "configured", task
    detail = (await registered.client.get(f"/api/v1/clusters/{cluster['id']}")).json()
    assert detail["iofilter"]["version"] == IOFILTER_VERSION
    assert {h["iofilter_status"] for h in detail["hosts"]} == {"installed"}
