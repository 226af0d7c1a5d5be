"""Configuring clusters for JetStream DR: the IO filter on every host, through vCenter."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, InvalidState, NotFound, ValidationFailed
from app.core.principal import Principal
from app.core.schemas import EntityRef
from app.domain.clusters.states import ClusterStatus, sources_for
from app.domain.inventory import repository as inventory
from app.domain.inventory.host_issues import issue_of
from app.domain.inventory.models import Cluster, Host
from app.domain.platform import Platform
from app.domain.plugin.package import IOFILTER_VERSION
from app.domain.usage import DOMAIN_USAGE, Used
from app.domain.vcenters.models import VCenter
from app.domain.vcenters.states import VCenterStatus
from app.tasks.models import Task
from app.tasks.service import start_guarded


def mixed_versions(hosts: list[Host]) -> list[dict[str, str]]:
    """Per-host versions when the cluster mixes ESXi builds (VAIO refuses those), else []."""
    builds = {(h.esxi_version, h.esxi_build) for h in hosts}
    if len(builds) <= 1:
        return []
    return [
        {"host": h.name, "esxi_version": h.esxi_version, "esxi_build": h.esxi_build} for h in hosts
    ]


class ClusterService:
    def __init__(self, session: AsyncSession, platform: Platform) -> None:
        self.session = session
        self.platform = platform

    async def _load(self, cluster_id: str) -> tuple[Cluster, list[Host]]:
        cluster = await inventory.get(self.session, Cluster, cluster_id)
        if cluster is None:
            raise NotFound(f"cluster {cluster_id} does not exist")
        hosts = (await inventory.hosts_of(self.session, [cluster.id]))[cluster.id]
        vcenter = await self.session.get(VCenter, cluster.vcenter_id)
        if vcenter is None or vcenter.status != VCenterStatus.REGISTERED.value:
            raise InvalidState(
                "the cluster's vCenter is not registered and reachable",
                entity="vcenter",
                state=vcenter.status if vcenter else "missing",
            )
        return cluster, hosts

    async def configure(self, cluster_id: str, allow_maintenance: bool, actor: Principal) -> Task:
        cluster, hosts = await self._load(cluster_id)
        if not hosts:
            raise ValidationFailed(f"cluster {cluster.name} has no hosts", error_code="no_hosts")
        mixed = mixed_versions(hosts)
        if mixed:
            raise ValidationFailed(
                f"cluster {cluster.name} mixes ESXi versions; IO filters need one version on "
                "every host",
                error_code="mixed_esxi_versions",
                details=mixed,
            )
        upgrade = cluster.iofilter_version not in (None, IOFILTER_VERSION)
        if upgrade and not allow_maintenance:
            raise _maintenance_required(cluster, "an installed filter of another version")
        return await self._start(
            cluster,
            "configure_cluster",
            ClusterStatus.CONFIGURING,
            actor,
            {"allow_maintenance_mode": allow_maintenance},
        )

    async def unconfigure(self, cluster_id: str, allow_maintenance: bool, actor: Principal) -> Task:
        cluster, _hosts = await self._load(cluster_id)
        protecting = await self.platform.worker(DOMAIN_USAGE).names_using(
            self.session, Used.CLUSTER, cluster.id
        )
        if protecting:
            raise InvalidState(
                f"cluster {cluster.name} runs VMs of protection domain(s) "
                f"{', '.join(sorted(protecting))}: remove them before uninstalling the IO filter",
                entity="cluster",
                state="in_use",
            )
        if not allow_maintenance:
            raise _maintenance_required(cluster, "uninstalling the IO filter")
        return await self._start(cluster, "unconfigure_cluster", ClusterStatus.UNCONFIGURING, actor)

    async def upgrade(self, cluster_id: str, allow_maintenance: bool, actor: Principal) -> Task:
        cluster, _hosts = await self._load(cluster_id)
        if cluster.iofilter_version == IOFILTER_VERSION:
            raise Conflict(
                f"cluster {cluster.name} already runs IO filter {IOFILTER_VERSION}",
                error_code="already_current",
            )
        if not allow_maintenance:
            raise _maintenance_required(cluster, "upgrading the IO filter")
        return await self._start(cluster, "upgrade_cluster", ClusterStatus.UPGRADING, actor)

    async def resolve_issues(self, cluster_id: str, actor: Principal) -> Task:
        cluster, _hosts = await self._load(cluster_id)
        if cluster.status not in {
            ClusterStatus.PARTIALLY_CONFIGURED.value,
            ClusterStatus.ERROR.value,
        }:
            raise InvalidState(
                f"cluster {cluster.name} is {cluster.status}: there are no issues to resolve",
                entity="cluster",
                state=cluster.status,
            )
        return await self._start(cluster, "resolve_cluster_issues", _retry_target(cluster), actor)

    async def repair(self, cluster_id: str, actor: Principal) -> Task:
        """Repair-Cluster: read every host again from vCenter, then put the IO filter back where
        it is missing or failed. For a cluster JetStream DR configured (even partly)."""
        cluster, _hosts = await self._load(cluster_id)
        if cluster.status == ClusterStatus.UNCONFIGURED.value:
            raise InvalidState(
                f"cluster {cluster.name} is not configured for JetStream DR: configure it instead",
                entity="cluster",
                state=cluster.status,
            )
        return await self._start(cluster, "repair_cluster", ClusterStatus.CONFIGURING, actor)

    async def resolve_host_issue(self, host_id: str, actor: Principal) -> Task:
        """Resolve-HostIssue: read the host again from vCenter and retry the IO filter on it.
        The task runs on the host's cluster (one operation per cluster at a time)."""
        host = await inventory.get(self.session, Host, host_id)
        if host is None:
            raise NotFound(f"host {host_id} does not exist")
        if host.cluster_id is None:
            raise InvalidState(
                f"host {host.name} is in no cluster", entity="host", state="standalone"
            )
        cluster, _hosts = await self._load(host.cluster_id)
        if issue_of(host, cluster.status) is None:
            raise InvalidState(
                f"host {host.name} has no issue to resolve", entity="host", state="no_issue"
            )
        params = {"host_id": host.id, "host": host.name}
        return await self._start(
            cluster, "resolve_host_issue", _retry_target(cluster), actor, params
        )

    async def issues(self, cluster_id: str) -> tuple[Cluster, list[tuple[Host, str]]]:
        """The hosts of a cluster JetStream DR watches (configured, even partly) that have an
        issue: the last operation failed on them, they do not respond or run without CIM."""
        cluster = await inventory.get(self.session, Cluster, cluster_id)
        if cluster is None:
            raise NotFound(f"cluster {cluster_id} does not exist")
        hosts = (await inventory.hosts_of(self.session, [cluster.id]))[cluster.id]
        found = [(h, issue_of(h, cluster.status)) for h in hosts]
        return cluster, [(h, issue) for h, issue in found if issue]

    async def _start(
        self,
        cluster: Cluster,
        task_type: str,
        target: ClusterStatus,
        actor: Principal,
        params: dict[str, Any] | None = None,
    ) -> Task:
        return await start_guarded(
            self.session,
            self.platform,
            model=Cluster,
            entity=EntityRef(type="cluster", id=cluster.id, name=cluster.name),
            task_type=task_type,
            target=target.value,
            sources=sources_for(target),
            actor=actor.username,
            params={**(params or {}), "previous_status": cluster.status},
        )


def _retry_target(cluster: Cluster) -> ClusterStatus:
    """A retry repeats the cluster's last operation: an uninstall, or an install."""
    if cluster.last_operation == "uninstall":
        return ClusterStatus.UNCONFIGURING
    return ClusterStatus.CONFIGURING


def _maintenance_required(cluster: Cluster, why: str) -> Conflict:
    return Conflict(
        f"{why} puts the hosts of {cluster.name} in maintenance mode one at a time; "
        "pass allow_maintenance_mode=true to consent",
        error_code="maintenance_mode_required",
        details=[{"entity": "cluster", "state": cluster.status}],
    )
