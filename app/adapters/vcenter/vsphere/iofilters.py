"""IO filters through the IoFilterManager: install, upgrade, uninstall, resolve, query."""

from __future__ import annotations

from app.adapters.vcenter.errors import (
    VCenterError,
)
from app.adapters.vcenter.port import (
    ClusterFilter,
    HostFilterState,
)
from app.adapters.vcenter.vsphere.base import SessionBase, fault_text


class IoFilters(SessionBase):
    def _filter_state(
        self, cluster_moref: str, filter_id: str | None = None
    ) -> ClusterFilter | None:
        manager = self._content.ioFilterManager
        cluster = self._cluster(cluster_moref)
        infos = list(manager.QueryIoFilterInfo(compRes=cluster) or [])
        info = next((i for i in infos if filter_id in (None, i.id)), None)
        if info is None:
            return None
        issues: dict[str, str] = {}
        result = manager.QueryIoFilterIssues(filterId=info.id, compRes=cluster)
        for host_issue in result.hostIssue or []:
            messages = [fault_text(fault) for fault in host_issue.issue]
            issues[host_issue.host._moId] = "; ".join(messages)
        hosts = []
        for host in cluster.host:
            mounted = (
                [f for f in (host.config.ioFilterInfo or []) if f.id == info.id]
                if host.config
                else []
            )
            hosts.append(
                HostFilterState(
                    host_moref=host._moId,
                    installed=bool(mounted),
                    version=mounted[0].version if mounted else None,
                    issue=issues.get(host._moId),
                )
            )
        return ClusterFilter(
            filter_id=info.id,
            name=info.name,
            vendor=info.vendor,
            version=info.version,
            op_type=info.opType,
            vib_url=info.vibUrl or "",
            hosts=tuple(hosts),
        )

    def _install(self, cluster_moref: str, vib_url: str) -> ClusterFilter:
        manager = self._content.ioFilterManager
        self._wait(
            manager.InstallIoFilter_Task(vibUrl=vib_url, compRes=self._cluster(cluster_moref))
        )
        state = self._filter_state(cluster_moref)
        if state is None:
            raise VCenterError("the IO filter is not on the cluster after its installation")
        return state

    async def install_iofilter(self, cluster_moref: str, vib_url: str) -> ClusterFilter:
        return await self._run(self._install, cluster_moref, vib_url)

    def _upgrade(self, cluster_moref: str, filter_id: str, vib_url: str) -> ClusterFilter:
        manager = self._content.ioFilterManager
        cluster = self._cluster(cluster_moref)
        self._wait(
            manager.UpgradeIoFilter_Task(filterId=filter_id, compRes=cluster, vibUrl=vib_url)
        )
        state = self._filter_state(cluster_moref)
        if state is None:
            raise VCenterError("the IO filter is not on the cluster after its upgrade")
        return state

    async def upgrade_iofilter(
        self, cluster_moref: str, filter_id: str, vib_url: str
    ) -> ClusterFilter:
        return await self._run(self._upgrade, cluster_moref, filter_id, vib_url)

    def _uninstall(self, cluster_moref: str, filter_id: str) -> ClusterFilter | None:
        manager = self._content.ioFilterManager
        self._wait(
            manager.UninstallIoFilter_Task(filterId=filter_id, compRes=self._cluster(cluster_moref))
        )
        return self._filter_state(cluster_moref, filter_id)

    async def uninstall_iofilter(self, cluster_moref: str, filter_id: str) -> ClusterFilter | None:
        return await self._run(self._uninstall, cluster_moref, filter_id)

    def _resolve(self, cluster_moref: str, filter_id: str) -> ClusterFilter:
        manager = self._content.ioFilterManager
        self._wait(
            manager.ResolveInstallationErrorsOnCluster_Task(
                filterId=filter_id, cluster=self._cluster(cluster_moref)
            )
        )
        state = self._filter_state(cluster_moref, filter_id)
        return state or ClusterFilter(filter_id, "", "", "", "uninstall", "", ())

    async def resolve_iofilter_errors(self, cluster_moref: str, filter_id: str) -> ClusterFilter:
        return await self._run(self._resolve, cluster_moref, filter_id)

    def _filters(self, cluster_moref: str) -> tuple[ClusterFilter, ...]:
        manager = self._content.ioFilterManager
        infos = manager.QueryIoFilterInfo(compRes=self._cluster(cluster_moref)) or []
        states = (self._filter_state(cluster_moref, info.id) for info in infos)
        return tuple(state for state in states if state is not None)

    async def query_iofilters(self, cluster_moref: str) -> tuple[ClusterFilter, ...]:
        return await self._run(self._filters, cluster_moref)
