"""Host heartbeats: on the virtual clock, the hosts of every vCenter with a cluster configured
for JetStream DR are read again (connection state, maintenance, CIM), so that a host that stops
responding or loses CIM raises its `host_issue` alarm without anybody refreshing the inventory,
and one that recovers clears it."""

from __future__ import annotations

from app.adapters.vcenter.errors import VCenterError
from app.adapters.vcenter.port import HostInfo
from app.domain.inventory import repository as inventory
from app.domain.inventory.host_issues import reconcile_host_alarms
from app.domain.inventory.models import Host
from app.domain.vcenters.heartbeat import VCenterHeartbeat
from app.domain.vcenters.models import VCenter
from app.domain.vcenters.service import endpoint_of
from app.domain.vcenters.states import VCenterStatus


class HostMonitor(VCenterHeartbeat):
    name = "host-monitor"

    async def check(self) -> None:
        async with self._sessionmaker() as session:
            vcenters = [
                vcenter
                for vcenter_id in await inventory.vcenters_with_configured_clusters(session)
                if (vcenter := await session.get(VCenter, vcenter_id)) is not None
                and vcenter.status == VCenterStatus.REGISTERED.value
                and vcenter.active_task_id is None
            ]
        for vcenter in vcenters:
            hosts = await self._hosts(vcenter)
            if hosts is not None:
                await self._record(vcenter.id, hosts)

    async def _hosts(self, vcenter: VCenter) -> tuple[HostInfo, ...] | None:
        """The hosts as vCenter reports them; None when vCenter cannot be asked (its DRVAs'
        heartbeat reports that)."""
        try:
            vc = await self._vcenter.connect(endpoint_of(self._secrets, vcenter))
        except VCenterError:
            return None
        try:
            return await vc.hosts()
        except VCenterError:
            return None
        finally:
            await vc.logout()

    async def _record(self, vcenter_id: str, reported: tuple[HostInfo, ...]) -> None:
        by_moref = {host.moref: host for host in reported}
        async with self._sessionmaker() as session:
            changed = False
            for row in await inventory.all_of(session, Host, vcenter_id):
                host = by_moref.get(row.moref)
                if host is None:  # gone from vCenter: the next inventory refresh removes it
                    continue
                seen = (host.connection_state, host.cim_enabled, host.in_maintenance)
                if seen != (row.connection_state, row.cim_enabled, row.in_maintenance):
                    row.connection_state, row.cim_enabled, row.in_maintenance = seen
                    changed = True
            # Every other path that changes a host reconciles its alarms itself.
            if changed:
                await reconcile_host_alarms(session, self._clock.now())
                await session.commit()
