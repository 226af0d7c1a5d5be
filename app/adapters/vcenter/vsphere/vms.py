"""VMs: create (devices, disks, network), power, reconfigure disks, destroy; datastore files."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from pyVmomi import vim

from app.adapters.vcenter.errors import (
    VCenterError,
    VCenterNotFound,
)
from app.adapters.vcenter.port import (
    DiskInfo,
    VmInfo,
    VmSpec,
)
from app.adapters.vcenter.vsphere.base import (
    SessionBase,
)


class Vms(SessionBase):
    def _upload(self, datastore_moref: str, path: str, content: bytes) -> str:
        response, where = self._folder_request("PUT", datastore_moref, path, content)
        if response.status_code not in (200, 201, 204):
            raise VCenterError(f"upload to {where} failed: HTTP {response.status_code}")
        return where

    async def upload_file(self, datastore_moref: str, path: str, content: bytes) -> str:
        return await self._run(self._upload, datastore_moref, path, content)

    def _network(self, moref: str) -> Any:
        """The network object with its real type (a portgroup of a distributed switch is one)."""
        view = self._content.viewManager.CreateContainerView(
            self._content.rootFolder, [vim.Network], True
        )
        try:
            for network in view.view:
                if network._moId == moref:
                    return network
        finally:
            view.Destroy()
        raise VCenterNotFound(f"network {moref} does not exist")

    @staticmethod
    def _nic_backing(network: Any) -> Any:
        if isinstance(network, vim.dvs.DistributedVirtualPortgroup):
            switch = network.config.distributedVirtualSwitch
            if switch is None:
                raise VCenterError(f"portgroup {network.name} belongs to no switch")
            return vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(
                port=vim.dvs.PortConnection(
                    switchUuid=switch.uuid,
                    portgroupKey=network.key,
                )
            )
        return vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(
            deviceName=network.name, network=network
        )

    def _devices(self, spec: VmSpec, datastore: Any, network: Any) -> list[Any]:
        add = vim.vm.device.VirtualDeviceSpec.Operation.add
        devices = [
            vim.vm.device.VirtualDeviceSpec(
                operation=add,
                device=vim.vm.device.ParaVirtualSCSIController(
                    key=1000, busNumber=0, sharedBus="noSharing"
                ),
            ),
            vim.vm.device.VirtualDeviceSpec(
                operation=add,
                device=vim.vm.device.VirtualVmxnet3(
                    key=4000,
                    backing=self._nic_backing(network),
                    connectable=vim.vm.device.VirtualDevice.ConnectInfo(
                        startConnected=True, connected=True, allowGuestControl=True
                    ),
                ),
            ),
        ]
        for unit, size_gb in enumerate(spec.disks_gb):
            devices.append(
                vim.vm.device.VirtualDeviceSpec(
                    operation=add,
                    fileOperation=vim.vm.device.VirtualDeviceSpec.FileOperation.create,
                    device=vim.vm.device.VirtualDisk(
                        key=2000 + unit,
                        controllerKey=1000,
                        unitNumber=unit,
                        capacityInKB=size_gb * 1024 * 1024,
                        backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
                            diskMode="persistent", thinProvisioned=True, datastore=datastore
                        ),
                    ),
                )
            )
        if spec.iso_path is not None:
            devices.append(
                vim.vm.device.VirtualDeviceSpec(
                    operation=add, device=vim.vm.device.VirtualIDEController(key=200, busNumber=0)
                )
            )
            devices.append(
                vim.vm.device.VirtualDeviceSpec(
                    operation=add,
                    device=vim.vm.device.VirtualCdrom(
                        key=3000,
                        controllerKey=200,
                        unitNumber=0,
                        backing=vim.vm.device.VirtualCdrom.IsoBackingInfo(
                            fileName=spec.iso_path, datastore=datastore
                        ),
                        connectable=vim.vm.device.VirtualDevice.ConnectInfo(
                            startConnected=True, connected=True, allowGuestControl=False
                        ),
                    ),
                )
            )
        return devices

    def _create_vm(self, spec: VmSpec) -> VmInfo:
        stub = self._si._stub
        cluster = self._cluster(spec.cluster_moref)
        datastore = vim.Datastore(spec.datastore_moref, stub)
        network = self._network(spec.network_moref)
        datacenter = cluster.parent
        while datacenter is not None and not isinstance(datacenter, vim.Datacenter):
            datacenter = datacenter.parent
        if datacenter is None:
            raise VCenterNotFound(f"cluster {spec.cluster_moref} is in no datacenter")
        config = vim.vm.ConfigSpec(
            name=spec.name,
            numCPUs=spec.cpu,
            memoryMB=spec.memory_mb,
            guestId=spec.guest_os,
            files=vim.vm.FileInfo(vmPathName=f"[{datastore.name}]"),
            deviceChange=self._devices(spec, datastore, network),
            extraConfig=[vim.option.OptionValue(key=k, value=v) for k, v in spec.extra_config],
        )
        host = vim.HostSystem(spec.host_moref, stub) if spec.host_moref else None
        vm = self._wait(
            datacenter.vmFolder.CreateVM_Task(config=config, pool=cluster.resourcePool, host=host)
        )
        return self._vm_info(vm)

    async def create_vm(self, spec: VmSpec) -> VmInfo:
        return await self._run(self._create_vm, spec)

    def _folder_request(
        self, method: str, datastore_moref: str, path: str, content: bytes | None = None
    ) -> tuple[httpx.Response, str]:
        """vCenter's datastore HTTP interface (/folder), authenticated by the SOAP session."""
        datastore = vim.Datastore(datastore_moref, self._si._stub)
        name = datastore.name
        relative = path.lstrip("/")
        stub = self._si._stub
        response = httpx.request(
            method,
            f"https://{stub.host}/folder/{quote(relative)}",
            params={"dcPath": self._datacenter_of(datastore), "dsName": name},
            content=content,
            headers={
                "Cookie": stub.cookie.split(";", 1)[0],
                "Content-Type": "application/octet-stream",
            },
            verify=self._tls,
            timeout=300,
        )
        return response, f"[{name}] {relative}"

    def _delete_file(self, datastore_moref: str, path: str) -> None:
        response, where = self._folder_request("DELETE", datastore_moref, path)
        if response.status_code == 404:
            raise VCenterNotFound(f"file {where} was not found")
        if response.status_code not in (200, 204):
            raise VCenterError(f"deleting {where} failed: HTTP {response.status_code}")

    async def delete_file(self, datastore_moref: str, path: str) -> None:
        await self._run(self._delete_file, datastore_moref, path)

    def _add_disk(self, vm_moref: str, datastore_moref: str, size_gb: int) -> DiskInfo:
        vm = self._vm(vm_moref)
        devices = list(vm.config.hardware.device)
        controller = next(d for d in devices if isinstance(d, vim.vm.device.VirtualSCSIController))
        used = {d.unitNumber for d in devices if d.controllerKey == controller.key}
        unit = next(u for u in range(16) if u != 7 and u not in used)
        disk = vim.vm.device.VirtualDisk(
            key=-1,
            controllerKey=controller.key,
            unitNumber=unit,
            capacityInKB=size_gb * 1024 * 1024,
            backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
                diskMode="persistent",
                thinProvisioned=True,
                datastore=vim.Datastore(datastore_moref, self._si._stub),
            ),
        )
        change = vim.vm.device.VirtualDeviceSpec(
            operation=vim.vm.device.VirtualDeviceSpec.Operation.add,
            fileOperation=vim.vm.device.VirtualDeviceSpec.FileOperation.create,
            device=disk,
        )
        self._wait(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[change])))
        before = {d.key for d in devices}
        added = [d for d in self._vm_info(vm).disks if d.key not in before]
        if not added:
            raise VCenterError(f"the new disk does not show on VM {vm.name}")
        return added[0]

    async def add_disk(self, vm_moref: str, datastore_moref: str, size_gb: int) -> DiskInfo:
        return await self._run(self._add_disk, vm_moref, datastore_moref, size_gb)

    def _remove_disk(self, vm_moref: str, disk_key: int) -> None:
        vm = self._vm(vm_moref)
        disk = next(
            (
                d
                for d in vm.config.hardware.device
                if isinstance(d, vim.vm.device.VirtualDisk) and d.key == disk_key
            ),
            None,
        )
        if disk is None:
            raise VCenterNotFound(f"VM {vm.name} has no disk {disk_key}")
        change = vim.vm.device.VirtualDeviceSpec(
            operation=vim.vm.device.VirtualDeviceSpec.Operation.remove,
            fileOperation=vim.vm.device.VirtualDeviceSpec.FileOperation.destroy,
            device=disk,
        )
        self._wait(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[change])))

    async def remove_disk(self, vm_moref: str, disk_key: int) -> None:
        await self._run(self._remove_disk, vm_moref, disk_key)

    async def get_vm(self, vm_moref: str) -> VmInfo:
        return await self._run(lambda: self._vm_info(self._vm(vm_moref)))

    async def power_on_vm(self, vm_moref: str) -> None:
        await self._run(lambda: self._wait(self._vm(vm_moref).PowerOnVM_Task()))

    async def power_off_vm(self, vm_moref: str) -> None:
        await self._run(lambda: self._wait(self._vm(vm_moref).PowerOffVM_Task()))

    def _reconfigure(self, vm_moref: str, cpu: int, memory_mb: int) -> VmInfo:
        vm = self._vm(vm_moref)
        self._wait(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(numCPUs=cpu, memoryMB=memory_mb)))
        return self._vm_info(vm)

    async def reconfigure_vm(self, vm_moref: str, cpu: int, memory_mb: int) -> VmInfo:
        return await self._run(self._reconfigure, vm_moref, cpu, memory_mb)

    def _destroy(self, vm_moref: str) -> None:
        vm = self._vm(vm_moref)
        if vm.runtime.powerState == "poweredOn":
            self._wait(vm.PowerOffVM_Task())
        self._wait(vm.Destroy_Task())

    async def destroy_vm(self, vm_moref: str) -> None:
        await self._run(self._destroy, vm_moref)
