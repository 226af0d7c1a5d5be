"""A simulated vCenter: inventory seeded from a topology file, state kept in the appliance DB.

It behaves like a vCenter seen through the port: it refuses unknown hostnames and wrong
credentials, reports its version and server time (from the virtual clock, plus the topology's
skew), serves its inventory and keeps registered extensions.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import re
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete

from app.adapters.vcenter.errors import (
    VCenterAuthFailed,
    VCenterConflict,
    VCenterError,
    VCenterNotFound,
    VCenterUnreachable,
)
from app.adapters.vcenter.models import SimulatedVCenterState
from app.adapters.vcenter.port import (
    About,
    ClusterFilter,
    ClusterInfo,
    DatastoreInfo,
    DiskInfo,
    Endpoint,
    Extension,
    HostFilterState,
    HostInfo,
    Inventory,
    MaintenanceRecord,
    NetworkInfo,
    VmInfo,
    VmSpec,
)
from app.adapters.vcenter.topology import GIB, Topology
from app.core.clock import VirtualClock
from app.core.db import SessionMaker

# How long vCenter takes, in virtual seconds, to act on one host of a cluster, on a VM...
HOST_OPERATION_SECONDS = 20.0
MAINTENANCE_SECONDS = 10.0
VM_CREATE_SECONDS = 8.0
POWER_SECONDS = 5.0
UPLOAD_BYTES_PER_SECOND = 100 * 1024 * 1024
VIB_FILE = re.compile(r"/(?P<name>[a-z0-9-]+)_(?P<version>[0-9][A-Za-z0-9.-]*)\.vib$")
BUILTIN_ROLES: dict[str, list[str]] = {
    "Admin": [
        "System.Anonymous",
        "System.Read",
        "System.View",
        "Host.Config.Patch",
        "Extension.Register",
    ],
    "ReadOnly": ["System.Anonymous", "System.Read", "System.View"],
    "CloudAdmin": [
        "System.Anonymous",
        "System.Read",
        "System.View",
        "Datastore.FileManagement",
        "Extension.Register",
        "Extension.Unregister",
        "Extension.Update",
        "Host.Config.Patch",
        "VirtualMachine.Inventory.Create",
        "VirtualMachine.Interact.PowerOn",
    ],
}


class _State(BaseModel):
    clusters: list[ClusterInfo]
    hosts: list[HostInfo]
    datastores: list[DatastoreInfo]
    networks: list[NetworkInfo]
    vms: list[VmInfo]
    extensions: dict[str, Extension] = {}
    iofilters: dict[str, list[ClusterFilter]] = {}
    maintenance: list[MaintenanceRecord] = []
    roles: dict[str, list[str]] = {}
    permissions: dict[str, str] = {}
    # Fault injection: filter operations fail on these host names.
    failing_hosts: list[str] = []
    # datastore moref -> path -> (size in bytes, sha256) of files uploaded to it
    files: dict[str, dict[str, tuple[int, str]]] = {}
    # VM moref -> its guestinfo.* settings
    guestinfo: dict[str, dict[str, str]] = {}
    next_vm: int = 5001


def _seed(topology: Topology) -> _State:
    clusters: list[ClusterInfo] = []
    hosts: list[HostInfo] = []
    datastores: list[DatastoreInfo] = []
    networks: list[NetworkInfo] = []
    cluster_moref: dict[str, str] = {}
    host_moref: dict[str, tuple[str, str]] = {}
    datastore_moref: dict[str, str] = {}
    for dc in topology.datacenters:
        for cluster in dc.clusters:
            moref = f"domain-c{len(clusters) + 8}"
            cluster_moref[cluster.name] = moref
            clusters.append(ClusterInfo(moref=moref, name=cluster.name, datacenter=dc.name))
            for host in cluster.hosts:
                host_ref = f"host-{len(hosts) + 12}"
                host_moref[host.name] = (host_ref, moref)
                hosts.append(
                    HostInfo(
                        moref=host_ref,
                        name=host.name,
                        cluster_moref=moref,
                        esxi_version=host.esxi_version,
                        esxi_build=host.esxi_build,
                        cim_enabled=host.cim_enabled,
                        in_maintenance=host.in_maintenance,
                        connection_state=host.connection_state,
                    )
                )
        for ds in dc.datastores:
            moref = f"datastore-{len(datastores) + 30}"
            datastore_moref[ds.name] = moref
            datastores.append(
                DatastoreInfo(
                    moref=moref,
                    name=ds.name,
                    type=ds.type,
                    capacity_bytes=ds.capacity_gb * GIB,
                    free_bytes=ds.free_gb * GIB,
                    cluster_morefs=tuple(cluster_moref[name] for name in ds.clusters),
                )
            )
        for net in dc.networks:
            networks.append(
                NetworkInfo(moref=f"network-{len(networks) + 40}", name=net.name, dhcp=net.dhcp)
            )
    vms: list[VmInfo] = []
    first_datastore = datastores[0].moref if datastores else ""
    for index, vm in enumerate(topology.vms):
        host_ref, vm_cluster = host_moref[vm.host]
        vm_datastore = datastore_moref[vm.datastore] if vm.datastore else first_datastore
        disks = tuple(
            DiskInfo(
                key=2000 + position,
                label=f"Hard disk {position + 1}",
                capacity_bytes=disk.size_gb * GIB,
                datastore_moref=vm_datastore,
                write_profile={
                    "name": disk.profile,
                    **topology.write_profiles[disk.profile].model_dump(),
                },
            )
            for position, disk in enumerate(vm.disks)
        )
        powered_on = vm.power_state == "poweredOn"
        vms.append(
            VmInfo(
                moref=f"vm-{index + 1001}",
                name=vm.name,
                cluster_moref=vm_cluster,
                host_moref=host_ref,
                power_state=vm.power_state,
                cpu=vm.cpu,
                memory_mb=vm.memory_gb * 1024,
                guest_os=vm.guest_os,
                ip=f"10.10.1.{index + 21}" if powered_on else None,
                disks=disks,
            )
        )
    return _State(
        clusters=clusters,
        hosts=hosts,
        datastores=datastores,
        networks=networks,
        vms=vms,
        roles={name: list(privileges) for name, privileges in BUILTIN_ROLES.items()},
    )


class SimulatedVCenter:
    """The simulated backend of `VCenterPort`."""

    def __init__(self, sessionmaker: SessionMaker, topology: Topology, clock: VirtualClock) -> None:
        self._sessionmaker = sessionmaker
        self._topology = topology
        self._clock = clock
        self._lock = asyncio.Lock()
        self._state: _State | None = None

    @property
    def topology(self) -> Topology:
        return self._topology

    def server_time(self) -> dt.datetime:
        """vCenter's own clock: the machine's wall clock plus the topology's skew. Clock skew is
        about real clocks (NTP), not the emulator's virtual time."""
        skew = dt.timedelta(seconds=self._topology.vcenter.clock_skew_seconds)
        return dt.datetime.now(dt.UTC) + skew

    async def connect(self, endpoint: Endpoint) -> SimulatedSession:
        spec = self._topology.vcenter
        known_names = {spec.hostname.lower(), (spec.ip or spec.hostname).lower()}
        if endpoint.hostname.lower() not in known_names or endpoint.port != 443:
            raise VCenterUnreachable(
                f"cannot connect to {endpoint.hostname}:{endpoint.port}: "
                "name does not resolve or the port is closed"
            )
        if endpoint.username.lower() != spec.username.lower() or endpoint.password != spec.password:
            raise VCenterAuthFailed(
                "Cannot complete login due to an incorrect user name or password."
            )
        await self._load()
        return SimulatedSession(self)

    async def reset(self) -> None:
        """Called by the emulator reset after the database was wiped: re-seed."""
        self._state = None
        await self._load()

    async def state(self) -> _State:
        return await self._load()

    async def _load(self) -> _State:
        async with self._lock:
            if self._state is None:
                async with self._sessionmaker() as session:
                    row = await session.get(SimulatedVCenterState, self._topology.vcenter.hostname)
                if row is not None:
                    self._state = _State.model_validate(row.state)
                else:
                    self._state = _seed(self._topology)
                    await self._save_locked()
            return self._state

    async def mutate(self, change: Any) -> None:
        await self._load()
        async with self._lock:
            assert self._state is not None
            change(self._state)
            await self._save_locked()

    async def fail_hosts(self, names: list[str]) -> None:
        """Make IO-filter operations fail on these hosts (empty: no failures)."""

        def change(state: _State) -> None:
            state.failing_hosts = list(names)

        await self.mutate(change)

    async def summary(self) -> dict[str, Any]:
        """What an installer leaves behind in vCenter: extensions, IO filters per cluster,
        roles and global permissions (the emulator shows it; a test checks a clean uninstall)."""
        state = await self.state()
        return {
            "extensions": sorted(state.extensions),
            "iofilters": {
                cluster: [item.filter_id for item in filters]
                for cluster, filters in state.iofilters.items()
                if filters
            },
            "roles": sorted(state.roles),
            "global_permissions": dict(state.permissions),
            "vms": len(state.vms),
        }

    async def set_unreachable(self, names: set[str]) -> int:
        """Hosts named here (`*`: all) stop responding; the others respond again. Returns how
        many do not respond."""
        state = await self.state()
        down = {h.name for h in state.hosts if "*" in names or h.name in names}

        def change(state: _State) -> None:
            state.hosts = [
                dataclasses.replace(
                    host, connection_state="notResponding" if host.name in down else "connected"
                )
                for host in state.hosts
            ]

        await self.mutate(change)
        return len(down)

    def guestinfo(self, vm_moref: str) -> dict[str, str]:
        assert self._state is not None
        return dict(self._state.guestinfo.get(vm_moref, {}))

    async def sleep(self, seconds: float) -> None:
        await self._clock.sleep(seconds)

    def now(self) -> dt.datetime:
        return self._clock.now()

    async def _save_locked(self) -> None:
        assert self._state is not None
        hostname = self._topology.vcenter.hostname
        async with self._sessionmaker() as session:
            await session.execute(
                delete(SimulatedVCenterState).where(SimulatedVCenterState.hostname == hostname)
            )
            session.add(
                SimulatedVCenterState(hostname=hostname, state=self._state.model_dump(mode="json"))
            )
            await session.commit()

    def forget(self) -> None:
        """Drop the cached state (the database was wiped underneath)."""
        self._state = None


class SimulatedSession:
    def __init__(self, backend: SimulatedVCenter) -> None:
        self._backend = backend
        self._open = True

    def _check(self) -> None:
        if not self._open:
            raise VCenterAuthFailed("The session is not authenticated.")

    async def about(self) -> About:
        self._check()
        spec = self._backend.topology.vcenter
        return About(
            version=spec.version,
            build=spec.build,
            api_version=spec.api_version,
            instance_uuid=spec.instance_uuid,
            server_time=self._backend.server_time(),
        )

    async def inventory(self) -> Inventory:
        self._check()
        state = await self._backend.state()
        return Inventory(
            clusters=tuple(state.clusters),
            hosts=tuple(state.hosts),
            datastores=tuple(state.datastores),
            networks=tuple(state.networks),
            vms=tuple(state.vms),
        )

    async def find_extension(self, key: str) -> Extension | None:
        self._check()
        state = await self._backend.state()
        return state.extensions.get(key)

    async def register_extension(self, extension: Extension) -> None:
        self._check()

        def change(state: _State) -> None:
            state.extensions[extension.key] = extension

        await self._backend.mutate(change)

    async def update_extension(self, extension: Extension) -> None:
        self._check()
        state = await self._backend.state()
        if extension.key not in state.extensions:
            raise VCenterNotFound(f"extension {extension.key} is not registered")
        await self.register_extension(extension)

    async def unregister_extension(self, key: str) -> None:
        self._check()
        state = await self._backend.state()
        if key not in state.extensions:
            raise VCenterNotFound(f"extension {key} is not registered")

        def change(state: _State) -> None:
            state.extensions.pop(key, None)

        await self._backend.mutate(change)

    async def _cluster_hosts(self, cluster_moref: str) -> list[HostInfo]:
        state = await self._backend.state()
        if not any(c.moref == cluster_moref for c in state.clusters):
            raise VCenterNotFound(f"compute resource {cluster_moref} is not a cluster")
        return sorted(
            (h for h in state.hosts if h.cluster_moref == cluster_moref), key=lambda h: h.name
        )

    @staticmethod
    def _host_problem(host: HostInfo, state: _State, operation: str) -> str | None:
        if host.connection_state != "connected":
            return f"Host {host.name} is not responding"
        if not host.cim_enabled and operation != "uninstall":
            return (
                f"The CIM service is not running on host {host.name}; "
                "IO filters need CIM (vim.fault.CimFault)"
            )
        if host.name in state.failing_hosts:
            return f"The VIB {operation} failed on host {host.name}: esxcli returned an error"
        return None

    async def _filter(self, cluster_moref: str, filter_id: str) -> ClusterFilter:
        state = await self._backend.state()
        for found in state.iofilters.get(cluster_moref, []):
            if found.filter_id == filter_id:
                return found
        raise VCenterNotFound(f"IO filter {filter_id} is not on cluster {cluster_moref}")

    async def _store(
        self, cluster_moref: str, updated: ClusterFilter | None, filter_id: str
    ) -> None:
        def change(state: _State) -> None:
            others = [f for f in state.iofilters.get(cluster_moref, []) if f.filter_id != filter_id]
            state.iofilters[cluster_moref] = others + ([updated] if updated else [])
            if not state.iofilters[cluster_moref]:
                state.iofilters.pop(cluster_moref)

        await self._backend.mutate(change)

    async def _rolling(
        self,
        cluster_moref: str,
        current: ClusterFilter,
        operation: str,
        version: str | None,
        only: set[str] | None = None,
        maintenance: bool = False,
    ) -> ClusterFilter:
        """Apply an operation host by host, as vCenter's agent manager does."""
        state = await self._backend.state()
        by_host = {h.host_moref: h for h in current.hosts}
        results: list[HostFilterState] = []
        for host in await self._cluster_hosts(cluster_moref):
            previous = by_host.get(host.moref, HostFilterState(host.moref, False, None, None))
            if only is not None and host.moref not in only:
                results.append(previous)
                continue
            if operation == "install" and previous.installed and previous.version == version:
                results.append(dataclasses.replace(previous, issue=None))
                continue
            problem = self._host_problem(host, state, operation)
            if problem is None and maintenance:
                await self._in_maintenance(host)
            else:
                await self._backend.sleep(HOST_OPERATION_SECONDS)
            if problem is not None:
                results.append(dataclasses.replace(previous, issue=problem))
            elif operation == "uninstall":
                results.append(HostFilterState(host.moref, False, None, None))
            else:
                results.append(HostFilterState(host.moref, True, version, None))
        return dataclasses.replace(
            current,
            op_type=operation,
            version=version or current.version,
            hosts=tuple(results),
        )

    async def _in_maintenance(self, host: HostInfo) -> None:
        """Enter maintenance, do the host's part, exit: one host at a time."""
        entered = self._backend.now()
        await self._backend.sleep(MAINTENANCE_SECONDS + HOST_OPERATION_SECONDS)
        exited = self._backend.now()

        def change(state: _State) -> None:
            state.maintenance.append(MaintenanceRecord(host.moref, entered, exited))

        await self._backend.mutate(change)

    async def install_iofilter(self, cluster_moref: str, vib_url: str) -> ClusterFilter:
        self._check()
        match = VIB_FILE.search(vib_url)
        if match is None:
            raise VCenterError(f"cannot download a VIB from {vib_url}")
        name, version = match["name"], match["version"]
        await self._cluster_hosts(cluster_moref)
        state = await self._backend.state()
        existing = next((f for f in state.iofilters.get(cluster_moref, []) if f.name == name), None)
        if existing is not None and existing.version != version:
            # A filter of the same name at another version is an upgrade (VAIO behaviour).
            return await self.upgrade_iofilter(cluster_moref, existing.filter_id, vib_url)
        current = existing or ClusterFilter(
            filter_id=f"JetStream_bootbank_{name}_{version}",
            name=name,
            vendor="JetStream Software",
            version=version,
            op_type="install",
            vib_url=vib_url,
            hosts=(),
        )
        updated = await self._rolling(cluster_moref, current, "install", version)
        updated = dataclasses.replace(updated, vib_url=vib_url)
        await self._store(cluster_moref, updated, current.filter_id)
        return updated

    async def upgrade_iofilter(
        self, cluster_moref: str, filter_id: str, vib_url: str
    ) -> ClusterFilter:
        self._check()
        match = VIB_FILE.search(vib_url)
        if match is None:
            raise VCenterError(f"cannot download a VIB from {vib_url}")
        current = await self._filter(cluster_moref, filter_id)
        if match["name"] != current.name:
            raise VCenterConflict(f"{vib_url} is not a version of {current.name}")
        updated = await self._rolling(
            cluster_moref, current, "upgrade", match["version"], maintenance=True
        )
        updated = dataclasses.replace(updated, vib_url=vib_url)
        await self._store(cluster_moref, updated, filter_id)
        return updated

    async def uninstall_iofilter(self, cluster_moref: str, filter_id: str) -> ClusterFilter | None:
        self._check()
        current = await self._filter(cluster_moref, filter_id)
        installed = {h.host_moref for h in current.hosts if h.installed}
        updated = await self._rolling(
            cluster_moref, current, "uninstall", None, only=installed, maintenance=True
        )
        remaining = updated if any(h.installed for h in updated.hosts) else None
        await self._store(cluster_moref, remaining, filter_id)
        return remaining

    async def resolve_iofilter_errors(self, cluster_moref: str, filter_id: str) -> ClusterFilter:
        self._check()
        current = await self._filter(cluster_moref, filter_id)
        failed = {h.host_moref for h in current.hosts if h.issue}
        hosts = await self._cluster_hosts(cluster_moref)
        failed |= {h.moref for h in hosts if h.moref not in {x.host_moref for x in current.hosts}}
        operation = current.op_type
        version = None if operation == "uninstall" else current.version
        updated = await self._rolling(
            cluster_moref,
            current,
            operation,
            version,
            only=failed,
            maintenance=operation != "install",
        )
        remaining = (
            updated if operation != "uninstall" or any(h.installed for h in updated.hosts) else None
        )
        await self._store(cluster_moref, remaining, filter_id)
        return updated

    async def query_iofilters(self, cluster_moref: str) -> tuple[ClusterFilter, ...]:
        self._check()
        await self._cluster_hosts(cluster_moref)
        state = await self._backend.state()
        return tuple(state.iofilters.get(cluster_moref, []))

    async def create_role(self, name: str, clone_from: str) -> None:
        self._check()
        state = await self._backend.state()
        if clone_from not in state.roles:
            raise VCenterNotFound(f"role {clone_from} does not exist")
        if name in state.roles:
            raise VCenterConflict(f"role {name} already exists")
        privileges = list(state.roles[clone_from])

        def change(state: _State) -> None:
            state.roles[name] = privileges

        await self._backend.mutate(change)

    async def delete_role(self, name: str) -> None:
        self._check()
        state = await self._backend.state()
        if name not in state.roles:
            raise VCenterNotFound(f"role {name} does not exist")
        if name in state.permissions.values():
            raise VCenterConflict(f"role {name} is still granted")

        def change(state: _State) -> None:
            state.roles.pop(name, None)

        await self._backend.mutate(change)

    async def role_names(self) -> tuple[str, ...]:
        self._check()
        return tuple(sorted((await self._backend.state()).roles))

    async def set_global_permission(self, principal: str, role: str) -> None:
        self._check()
        if role not in (await self._backend.state()).roles:
            raise VCenterNotFound(f"role {role} does not exist")

        def change(state: _State) -> None:
            state.permissions[principal] = role

        await self._backend.mutate(change)

    async def remove_global_permission(self, principal: str) -> None:
        self._check()
        if principal not in (await self._backend.state()).permissions:
            raise VCenterNotFound(f"{principal} has no global permission")

        def change(state: _State) -> None:
            state.permissions.pop(principal, None)

        await self._backend.mutate(change)

    async def global_permissions(self) -> dict[str, str]:
        self._check()
        return dict((await self._backend.state()).permissions)

    async def upload_file(self, datastore_moref: str, path: str, content: bytes) -> str:
        self._check()
        state = await self._backend.state()
        datastore = next((d for d in state.datastores if d.moref == datastore_moref), None)
        if datastore is None:
            raise VCenterNotFound(f"datastore {datastore_moref} does not exist")
        digest = hashlib.sha256(content).hexdigest()
        await self._backend.sleep(max(1.0, len(content) / UPLOAD_BYTES_PER_SECOND))

        def change(state: _State) -> None:
            state.files.setdefault(datastore_moref, {})[path.lstrip("/")] = (len(content), digest)

        await self._backend.mutate(change)
        return f"[{datastore.name}] {path.lstrip('/')}"

    async def delete_file(self, datastore_moref: str, path: str) -> None:
        self._check()
        state = await self._backend.state()
        relative = path.lstrip("/")
        if relative not in state.files.get(datastore_moref, {}):
            raise VCenterNotFound(f"file {relative} was not found on {datastore_moref}")

        def change(state: _State) -> None:
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
        vm = VmInfo(
            moref=f"vm-{state.next_vm}",
            name=spec.name,
            cluster_moref=spec.cluster_moref,
            host_moref=spec.host_moref or hosts[state.next_vm % len(hosts)].moref,
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
                    datastore_moref=datastore.moref,
                    write_profile=(
                        dict(spec.disk_write_profiles[position])
                        if position < len(spec.disk_write_profiles)
                        else {"name": "idle", "write_iops": 0.0, "write_kb": 4.0}
                    ),
                )
                for position, size in enumerate(spec.disks_gb)
            ),
        )

        def change(state: _State) -> None:
            state.vms.append(vm)
            state.next_vm += 1
            if spec.extra_config:
                state.guestinfo[vm.moref] = dict(spec.extra_config)

        await self._backend.mutate(change)
        return vm

    async def get_vm(self, vm_moref: str) -> VmInfo:
        self._check()
        state = await self._backend.state()
        found = next((vm for vm in state.vms if vm.moref == vm_moref), None)
        if found is None:
            raise VCenterNotFound(f"VM {vm_moref} does not exist")
        return found

    async def _replace_vm(self, vm_moref: str, **changes: Any) -> None:
        def change(state: _State) -> None:
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

    async def destroy_vm(self, vm_moref: str) -> None:
        vm = await self.get_vm(vm_moref)
        if vm.power_state == "poweredOn":
            await self.power_off_vm(vm_moref)
        await self._backend.sleep(POWER_SECONDS)

        def change(state: _State) -> None:
            state.vms = [v for v in state.vms if v.moref != vm_moref]
            state.guestinfo.pop(vm_moref, None)

        await self._backend.mutate(change)

    async def logout(self) -> None:
        self._open = False
