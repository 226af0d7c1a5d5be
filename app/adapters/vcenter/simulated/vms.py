"""VMs, disks and datastore files on the simulated vCenter, on the virtual clock."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

from app.adapters.vcenter.errors import (
    VCenterConflict,
    VCenterNotFound,
)
from app.adapters.vcenter.port import (
    DiskInfo,
    HostInfo,
    VmInfo,
    VmSpec,
)
from app.adapters.vcenter.simulated.base import SessionBase
from app.adapters.vcenter.simulated.state import (
    POWER_SECONDS,
    UPLOAD_BYTES_PER_SECOND,
    VM_CREATE_SECONDS,
    SimulatedState,
)
from app.adapters.vcenter.topology import GIB


class Vms(SessionBase):
    async def upload_file(self, datastore_moref: str, path: str, content: bytes) -> str:
        self._check()
        state = await self._backend.state()
        datastore = next((d for d in state.datastores if d.moref == datastore_moref), None)
        if datastore is None:
            raise VCenterNotFound(f"datastore {datastore_moref} does not exist")
        digest = hashlib.sha256(content).hexdigest()
        await self._backend.sleep(max(1.0, len(content) / UPLOAD_BYTES_PER_SECOND))

        def change(state: SimulatedState) -> None:
            state.files.setdefault(datastore_moref, {})[path.lstrip("/")] = (len(content), digest)

        await self._backend.mutate(change)
        return f"[{datastore.name}] {path.lstrip('/')}"

    async def delete_file(self, datastore_moref: str, path: str) -> None:
        self._check()
        state = await self._backend.state()
        relative = path.lstrip("/")
        if relative not in state.files.get(datastore_moref, {}):
            raise VCenterNotFound(f"file {relative} was not found on {datastore_moref}")

        def change(state: SimulatedState) -> None:
            state.files[datastore_moref].pop(relative, None)

        await self._backend.mutate(change)

    async def add_disk(self, vm_moref: str, datastore_moref: str, size_gb: int) -> DiskInfo:
        vm = await self.get_vm(vm_moref)
        state = await self._backend.state()
        if not any(d.moref == datastore_moref for d in state.datastores):
            raise VCenterNotFound(f"datastore {datastore_moref} does not exist")
        await self._backend.sleep(POWER_SECONDS)
        disk = DiskInfo(
            key=max((d.key for d in vm.disks), default=1999) + 1,
            label=f"Hard disk {len(vm.disks) + 1}",
            capacity_bytes=size_gb * GIB,
            datastore_moref=datastore_moref,
            write_profile={"name": "idle", "write_iops": 0.0, "write_kb": 4.0},
        )
        await self._replace_vm(vm_moref, disks=(*vm.disks, disk))
        return disk

    async def remove_disk(self, vm_moref: str, disk_key: int) -> None:
        vm = await self.get_vm(vm_moref)
        if not any(d.key == disk_key for d in vm.disks):
            raise VCenterNotFound(f"VM {vm.name} has no disk {disk_key}")
        await self._replace_vm(vm_moref, disks=tuple(d for d in vm.disks if d.key != disk_key))

    async def create_vm(self, spec: VmSpec) -> VmInfo:
        self._check()
        state = await self._backend.state()
        hosts = await self._cluster_hosts(spec.cluster_moref)
        datastore = next((d for d in state.datastores if d.moref == spec.datastore_moref), None)
        if datastore is None:
            raise VCenterNotFound(f"datastore {spec.datastore_moref} does not exist")
        if not any(n.moref == spec.network_moref for n in state.networks):
            raise VCenterNotFound(f"network {spec.network_moref} does not exist")
        if spec.host_moref is not None and spec.host_moref not in {h.moref for h in hosts}:
            raise VCenterNotFound(f"host {spec.host_moref} is not in cluster {spec.cluster_moref}")
        if any(vm.name == spec.name for vm in state.vms):
            raise VCenterConflict(f"The name '{spec.name}' already exists.")
        if spec.iso_path is not None:
            prefix = f"[{datastore.name}] "
            iso = spec.iso_path.removeprefix(prefix)
            if not spec.iso_path.startswith(prefix) or iso not in state.files.get(
                datastore.moref, {}
            ):
                raise VCenterNotFound(f"file {spec.iso_path} was not found")
        await self._backend.sleep(VM_CREATE_SECONDS)
        created: list[VmInfo] = []

        def change(state: SimulatedState) -> None:
            # The moref is taken and the name checked again under the state's lock: creates
            # that slept side by side must not get one moref, nor two VMs one name.
            if any(vm.name == spec.name for vm in state.vms):
                raise VCenterConflict(f"The name '{spec.name}' already exists.")
            vm = _new_vm(spec, state.next_vm, hosts, datastore.moref)
            state.vms.append(vm)
            state.next_vm += 1
            if spec.extra_config:
                state.guestinfo[vm.moref] = dict(spec.extra_config)
            created.append(vm)

        await self._backend.mutate(change)
        return created[0]

    async def get_vm(self, vm_moref: str) -> VmInfo:
        self._check()
        state = await self._backend.state()
        found = next((vm for vm in state.vms if vm.moref == vm_moref), None)
        if found is None:
            raise VCenterNotFound(f"VM {vm_moref} does not exist")
        return found

    async def _replace_vm(self, vm_moref: str, **changes: Any) -> None:
        def change(state: SimulatedState) -> None:
            state.vms = [
                dataclasses.replace(vm, **changes) if vm.moref == vm_moref else vm
                for vm in state.vms
            ]

        await self._backend.mutate(change)

    async def power_on_vm(self, vm_moref: str) -> None:
        vm = await self.get_vm(vm_moref)
        if vm.power_state == "poweredOn":
            raise VCenterConflict(f"VM {vm.name} is already powered on")
        await self._backend.sleep(POWER_SECONDS)
        static = dict(self._backend.guestinfo(vm_moref)).get("guestinfo.jetstream.ip")
        octet = int(vm_moref.rsplit("-", 1)[-1]) % 200 + 20
        await self._replace_vm(vm_moref, power_state="poweredOn", ip=static or f"10.10.2.{octet}")

    async def power_off_vm(self, vm_moref: str) -> None:
        vm = await self.get_vm(vm_moref)
        if vm.power_state == "poweredOff":
            raise VCenterConflict(f"VM {vm.name} is already powered off")
        await self._backend.sleep(POWER_SECONDS)
        await self._replace_vm(vm_moref, power_state="poweredOff", ip=None)

    async def reconfigure_vm(self, vm_moref: str, cpu: int, memory_mb: int) -> VmInfo:
        vm = await self.get_vm(vm_moref)
        if vm.power_state == "poweredOn":
            raise VCenterConflict(
                f"The attempted operation cannot be performed in the current state (Powered on): "
                f"VM {vm.name}"
            )
        await self._replace_vm(vm_moref, cpu=cpu, memory_mb=memory_mb)
        return await self.get_vm(vm_moref)

    async def destroy_vm(self, vm_moref: str) -> None:
        vm = await self.get_vm(vm_moref)
        if vm.power_state == "poweredOn":
            await self.power_off_vm(vm_moref)
        await self._backend.sleep(POWER_SECONDS)

        def change(state: SimulatedState) -> None:
            state.vms = [v for v in state.vms if v.moref != vm_moref]
            state.guestinfo.pop(vm_moref, None)

        await self._backend.mutate(change)


def _new_vm(spec: VmSpec, number: int, hosts: Sequence[HostInfo], datastore_moref: str) -> VmInfo:
    return VmInfo(
        moref=f"vm-{number}",
        name=spec.name,
        cluster_moref=spec.cluster_moref,
        host_moref=spec.host_moref or hosts[number % len(hosts)].moref,
        power_state="poweredOff",
        cpu=spec.cpu,
        memory_mb=spec.memory_mb,
        guest_os=spec.guest_os,
        ip=None,
        iso_path=spec.iso_path,
        disks=tuple(
            DiskInfo(
                key=2000 + position,
                label=f"Hard disk {position + 1}",
                capacity_bytes=size * GIB,
                datastore_moref=datastore_moref,
                write_profile=(
                    dict(spec.disk_write_profiles[position])
                    if position < len(spec.disk_write_profiles)
                    else {"name": "idle", "write_iops": 0.0, "write_kb": 4.0}
                ),
            )
            for position, size in enumerate(spec.disks_gb)
        ),
    )
