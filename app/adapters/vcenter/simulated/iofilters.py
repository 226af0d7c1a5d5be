"""IO filters on the simulated vCenter: rolling installs host by host, maintenance mode, per-host
problems (unreachable hosts, CIM down, mixed versions)."""

from __future__ import annotations

import dataclasses

from app.adapters.vcenter.errors import (
    VCenterConflict,
    VCenterError,
    VCenterNotFound,
)
from app.adapters.vcenter.port import (
    ClusterFilter,
    HostFilterState,
    HostInfo,
    MaintenanceRecord,
)
from app.adapters.vcenter.simulated.base import SessionBase
from app.adapters.vcenter.simulated.state import (
    HOST_OPERATION_SECONDS,
    MAINTENANCE_SECONDS,
    VIB_FILE,
    SimulatedState,
)


class IoFilters(SessionBase):
    @staticmethod
    def _host_problem(host: HostInfo, state: SimulatedState, operation: str) -> str | None:
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
        def change(state: SimulatedState) -> None:
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

        def change(state: SimulatedState) -> None:
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
