"""The simulated vCenter itself, shared by its sessions."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import delete

from app.adapters.vcenter.errors import (
    VCenterAuthFailed,
    VCenterUnreachable,
)
from app.adapters.vcenter.models import SimulatedVCenterState
from app.adapters.vcenter.port import (
    Endpoint,
)
from app.adapters.vcenter.simulated.state import (
    SimulatedState,
    seed_state,
)
from app.adapters.vcenter.topology import Topology
from app.core.clock import VirtualClock
from app.core.db import SessionMaker


class SimulatedBackend:
    """The simulated backend of `VCenterPort`: its state, its clock, its faults."""

    def __init__(self, sessionmaker: SessionMaker, topology: Topology, clock: VirtualClock) -> None:
        self._sessionmaker = sessionmaker
        self._topology = topology
        self._clock = clock
        self._lock = asyncio.Lock()
        self._state: SimulatedState | None = None

    @property
    def topology(self) -> Topology:
        return self._topology

    def server_time(self) -> dt.datetime:
        """vCenter's own clock: the machine's wall clock plus the topology's skew. Clock skew is
        about real clocks (NTP), not the emulator's virtual time."""
        skew = dt.timedelta(seconds=self._topology.vcenter.clock_skew_seconds)
        return dt.datetime.now(dt.UTC) + skew

    async def authenticate(self, endpoint: Endpoint) -> None:
        """Refuses what vCenter would refuse (an unknown name or port, bad credentials)."""
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

    async def reset(self) -> None:
        """Called by the emulator reset after the database was wiped: re-seed."""
        self._state = None
        await self._load()

    async def state(self) -> SimulatedState:
        return await self._load()

    async def _load(self) -> SimulatedState:
        async with self._lock:
            if self._state is None:
                async with self._sessionmaker() as session:
                    row = await session.get(SimulatedVCenterState, self._topology.vcenter.hostname)
                if row is not None:
                    self._state = SimulatedState.model_validate(row.state)
                else:
                    self._state = seed_state(self._topology)
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

        def change(state: SimulatedState) -> None:
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
            "virtual_machines": [
                {
                    "name": vm.name,
                    "moref": vm.moref,
                    "power_state": vm.power_state,
                    "cpu": vm.cpu,
                    "memory_mb": vm.memory_mb,
                    "ip": vm.ip,
                    "guestinfo": dict(state.guestinfo.get(vm.moref, ())),
                }
                for vm in sorted(state.vms, key=lambda vm: vm.name)
            ],
        }

    async def set_unreachable(self, names: set[str]) -> int:
        """Hosts named here (`*`: all) stop responding; the others respond again. Returns how
        many do not respond."""
        state = await self.state()
        down = {h.name for h in state.hosts if "*" in names or h.name in names}

        def change(state: SimulatedState) -> None:
            state.hosts = [
                dataclasses.replace(
                    host, connection_state="notResponding" if host.name in down else "connected"
                )
                for host in state.hosts
            ]

        await self.mutate(change)
        return len(down)

    async def set_cim_stopped(self, names: set[str]) -> int:
        """The CIM service stops on the hosts named here (`*`: all) and runs on the others (an
        IO filter needs it). Returns how many hosts run without CIM."""
        state = await self.state()
        stopped = {h.name for h in state.hosts if "*" in names or h.name in names}

        def change(state: SimulatedState) -> None:
            state.hosts = [
                dataclasses.replace(host, cim_enabled=host.name not in stopped)
                for host in state.hosts
            ]

        await self.mutate(change)
        return len(stopped)

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
