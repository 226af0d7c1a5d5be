"""A simulated vCenter: inventory seeded from a topology file, state kept in the appliance DB.

It behaves like a vCenter seen through the port: it refuses unknown hostnames and wrong
credentials, reports its version and server time (from the virtual clock, plus the topology's
skew), serves its inventory and keeps registered extensions.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from pydantic import BaseModel
from sqlalchemy import String, delete
from sqlalchemy.orm import Mapped, mapped_column

from app.adapters.vcenter.errors import VCenterAuthFailed, VCenterNotFound, VCenterUnreachable
from app.adapters.vcenter.port import (
    About,
    ClusterInfo,
    DatastoreInfo,
    DiskInfo,
    Endpoint,
    Extension,
    HostInfo,
    Inventory,
    NetworkInfo,
    VmInfo,
)
from app.adapters.vcenter.topology import GIB, Topology
from app.core.clock import VirtualClock
from app.core.db import Base, SessionMaker


class SimulatedVCenterState(Base):
    """One row: the whole simulated vCenter as JSON."""

    __tablename__ = "sim_vcenter_state"

    hostname: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[dict[str, Any]]


class _State(BaseModel):
    clusters: list[ClusterInfo]
    hosts: list[HostInfo]
    datastores: list[DatastoreInfo]
    networks: list[NetworkInfo]
    vms: list[VmInfo]
    extensions: dict[str, Extension] = {}


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
    return _State(clusters=clusters, hosts=hosts, datastores=datastores, networks=networks, vms=vms)


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
        skew = dt.timedelta(seconds=self._topology.vcenter.clock_skew_seconds)
        return self._clock.now() + skew

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
        async with self._lock:
            self._state = _seed(self._topology)
            await self._save_locked()

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
        async with self._lock:
            assert self._state is not None
            change(self._state)
            await self._save_locked()

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

    async def logout(self) -> None:
        self._open = False
