"""End to end over HTTPS: the appliance on its pyVmomi backend against vcsim."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from tests.conftest import ROOT_PASSWORD
from tests.e2e.conftest import ServedAppliance
from tests.peers import vcsim_server

pytestmark = pytest.mark.e2e


def _vcsim_view(vcsim: Any) -> tuple[Any, Any]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    instance = SmartConnect(
        host=vcsim.host,
        port=vcsim.port,
        user=vcsim_server.USERNAME,
        pwd=vcsim_server.PASSWORD,
        sslContext=context,
    )
    content = instance.RetrieveContent()
    view = content.viewManager.CreateContainerView(
        content.rootFolder, [vim.ClusterComputeResource], True
    )
    return instance, view.view[0]


# The VIB URL handed to vcsim must resolve: the appliance names itself 127.0.0.1.
VSPHERE_BACKEND = {
    "JETDR_VCENTER__BACKEND": "vsphere",
    "JETDR_VCENTER__VERIFY_TLS": "false",
    "JETDR_HOSTNAME": "127.0.0.1",
    "JETDR_CLOCK__MODE": "scaled",
    "JETDR_CLOCK__SCALE": "1000",
}


def _register(appliance: ServedAppliance, client: httpx.Client, vcsim: Any) -> None:
    registration = client.post(
        "/api/v1/vcenters",
        json={
            "hostname": vcsim.host,
            "port": vcsim.port,
            "username": vcsim_server.USERNAME,
            "password": vcsim_server.PASSWORD,
        },
    )
    task = appliance.wait_task(client, registration.json()["id"])
    assert task["status"] == "succeeded", task["error"]


def _act(appliance: ServedAppliance, client: httpx.Client, path: str, **body: Any) -> Any:
    response = client.post(path, json=body or None)
    assert response.status_code == 202, response.text
    return appliance.wait_task(client, response.json()["id"])


def test_register_configure_unconfigure_against_vcsim(
    serve: Callable[..., ServedAppliance], vcsim: Any
) -> None:
    appliance = serve(**VSPHERE_BACKEND)
    appliance.start()
    instance, cluster_mo = _vcsim_view(vcsim)
    try:
        with appliance.client() as client:
            _register(appliance, client, vcsim)
            extensions = instance.RetrieveContent().extensionManager.extensionList
            assert "com.jetstream.jetdr" in [e.key for e in extensions]

            cluster = client.get("/api/v1/clusters", params={"name": cluster_mo.name}).json()
            cluster_id = cluster["items"][0]["id"]
            assert cluster["items"][0]["host_count"] == 4
            configured = _act(appliance, client, f"/api/v1/clusters/{cluster_id}/actions/configure")
            assert configured["result"]["status"] == "configured", configured
            detail = client.get(f"/api/v1/clusters/{cluster_id}").json()
            assert {h["iofilter_status"] for h in detail["hosts"]} == {"installed"}
            manager = instance.RetrieveContent().ioFilterManager
            filters = manager.QueryIoFilterInfo(compRes=cluster_mo)
            assert [f.name for f in filters] == ["jetstream-iofilter"]

            refused = client.post(f"/api/v1/clusters/{cluster_id}/actions/unconfigure")
            assert refused.status_code == 409
            removed = _act(
                appliance,
                client,
                f"/api/v1/clusters/{cluster_id}/actions/unconfigure",
                allow_maintenance_mode=True,
            )
            assert removed["result"]["status"] == "unconfigured", removed
            assert list(manager.QueryIoFilterInfo(compRes=cluster_mo)) == []

            failing = cluster_mo.host[1].name
            vcsim.fail_hosts([failing])
            partial = _act(appliance, client, f"/api/v1/clusters/{cluster_id}/actions/configure")
            assert partial["result"]["status"] == "partially_configured"
            assert [i["host"] for i in partial["result"]["issues"]] == [failing]
            vcsim.fail_hosts([])
            resolved = _act(
                appliance, client, f"/api/v1/clusters/{cluster_id}/actions/resolve-issues"
            )
            assert resolved["result"]["status"] == "configured", resolved
    finally:
        Disconnect(instance)


def test_deploy_two_drvas_with_log_volume_against_vcsim(
    serve: Callable[..., ServedAppliance], vcsim: Any
) -> None:
    appliance = serve(**VSPHERE_BACKEND)
    appliance.start()
    instance, cluster_mo = _vcsim_view(vcsim)
    try:
        with appliance.client() as client:
            _register(appliance, client, vcsim)
            cluster_id = client.get("/api/v1/clusters", params={"name": cluster_mo.name}).json()[
                "items"
            ][0]["id"]
            configured = _act(appliance, client, f"/api/v1/clusters/{cluster_id}/actions/configure")
            assert configured["result"]["status"] == "configured"
            datastore = client.get("/api/v1/datastores", params={"cluster_id": cluster_id}).json()
            network = client.get("/api/v1/networks").json()
            response = client.post(
                "/api/v1/drvas",
                json={
                    "name": "jetdr-drva",
                    "cluster_id": cluster_id,
                    "datastore_id": datastore["items"][0]["id"],
                    "network_id": network["items"][0]["id"],
                    "count": 2,
                },
            )
            assert response.status_code == 202, response.text
            for task in response.json()["items"]:
                done = appliance.wait_task(client, task["id"])
                assert done["status"] == "succeeded", done["error"]
            drvas = client.get("/api/v1/drvas").json()["items"]
            assert len(drvas) == 2

            content = instance.RetrieveContent()
            view = content.viewManager.CreateContainerView(
                content.rootFolder, [vim.VirtualMachine], True
            )
            vms = {vm._moId: vm for vm in view.view}
            hosts = set()
            for drva in drvas:
                vm = vms[drva["vm_moref"]]
                hosts.add(vm.runtime.host._moId)
                isos = [
                    getattr(device.backing, "fileName", None)
                    for device in vm.config.hardware.device
                    if isinstance(device, vim.vm.device.VirtualCdrom)
                ]
                assert isos == [drva["iso_path"]]
                assert vm.runtime.powerState == "poweredOn"
                assert vm.guest.ipAddress == drva["ip"]
            assert len(hosts) == 2

            volume = client.post(
                f"/api/v1/drvas/{drvas[0]['id']}/replication-log-volumes",
                json={"type": "vmdk", "size_gb": 50, "datastore_id": datastore["items"][0]["id"]},
            )
            assert appliance.wait_task(client, volume.json()["id"])["status"] == "succeeded"
            disks = [
                device.capacityInKB
                for device in vms[drvas[0]["vm_moref"]].config.hardware.device
                if isinstance(device, vim.vm.device.VirtualDisk)
            ]
            assert 50 * 1024 * 1024 in disks
    finally:
        Disconnect(instance)


def _vm_names(instance: Any) -> set[str]:
    content = instance.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    return {vm.name for vm in view.view}


def _run_command(
    client: httpx.Client, name: str, cmdlet: str, values: dict[str, Any], vcsim: Any
) -> dict[str, Any]:
    parameters = [{"type": "Value", "name": k, "value": v} for k, v in values.items()]
    parameters.append(
        {"type": "Credential", "name": "Credential", "username": "root", "password": ROOT_PASSWORD}
    )
    hidden = [
        {"type": "Value", "name": "VCenter", "value": f"{vcsim.host}:{vcsim.port}"},
        {
            "type": "Credential",
            "name": "VCenterCredential",
            "username": vcsim_server.USERNAME,
            "password": vcsim_server.PASSWORD,
        },
    ]
    submitted = client.put(
        f"/api/v1/avs/script-executions/{name}",
        json={"script_cmdlet_id": cmdlet, "parameters": parameters, "hidden_parameters": hidden},
    )
    assert submitted.status_code == 201, submitted.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        execution: dict[str, Any] = client.get(f"/api/v1/avs/script-executions/{name}").json()
        if execution["exit_code"] is not None:
            return execution
        time.sleep(0.2)
    raise AssertionError(f"{cmdlet} did not finish: {execution}")


def test_avs_install_deploys_the_msa_vm_into_vcsim_and_uninstall_removes_it(
    serve: Callable[..., ServedAppliance], vcsim: Any
) -> None:
    appliance = serve(**VSPHERE_BACKEND)
    appliance.start()
    instance, cluster_mo = _vcsim_view(vcsim)
    try:
        before = _vm_names(instance)
        extensions = [e.key for e in instance.RetrieveContent().extensionManager.extensionList]
        with appliance.client() as client:
            installed = _run_command(
                client,
                "install",
                "Install-JetDRWithStaticIP",
                {
                    "ProtectedCluster": cluster_mo.name,
                    "Cluster": cluster_mo.name,
                    "Datastore": cluster_mo.datastore[0].name,
                    "Network": cluster_mo.network[0].name,
                    "VMName": "jetdr-msa",
                    # The VIB URL vcsim is handed must resolve.
                    "HostName": "127.0.0.1",
                    "MSIp": "10.0.0.50",
                    "Netmask": "255.255.255.0",
                    "Gateway": "10.0.0.1",
                    "Dns": "10.0.0.2",
                },
                vcsim,
            )
            assert installed["provisioning_state"] == "Succeeded", installed["errors"]
            assert _vm_names(instance) == before | {"jetdr-msa"}
            content = instance.RetrieveContent()
            view = content.viewManager.CreateContainerView(
                content.rootFolder, [vim.VirtualMachine], True
            )
            msa = next(vm for vm in view.view if vm.name == "jetdr-msa")
            settings = {o.key: o.value for o in msa.config.extraConfig}
            assert settings["guestinfo.jetstream.ip"] == "10.0.0.50"
            assert msa.runtime.powerState == "poweredOn"
            assert "com.jetstream.jetdr" in [e.key for e in content.extensionManager.extensionList]

            resized = client.post(
                "/api/v1/appliance/actions/resize", json={"cpu_count": 6, "memory_gb": 12}
            )
            assert resized.status_code == 200, resized.text
            assert (msa.config.hardware.numCPU, msa.config.hardware.memoryMB) == (6, 12 * 1024)

            removed = _run_command(
                client,
                "uninstall",
                "Uninstall-JetDR",
                {"ProtectedCluster": cluster_mo.name, "MSIp": "10.0.0.50"},
                vcsim,
            )
            assert removed["provisioning_state"] == "Succeeded", removed["errors"]
        assert _vm_names(instance) == before
        assert [e.key for e in instance.RetrieveContent().extensionManager.extensionList] == (
            extensions
        )
    finally:
        Disconnect(instance)
