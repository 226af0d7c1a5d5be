"""Task types of the cluster IO-filter lifecycle. vCenter does the host-by-host work (and the
maintenance mode for uninstall and upgrade); each step here is idempotent, and `finalize` reads
the truth back from vCenter."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.vcenter.port import ClusterFilter, VCenterSession
from app.domain.appliance.models import Appliance
from app.domain.clusters.service import mixed_versions
from app.domain.clusters.states import ClusterStatus, HostFilterStatus, outcome
from app.domain.events import service as events
from app.domain.inventory import repository as inventory
from app.domain.inventory.host_issues import blocking_issue, reconcile_host_alarms
from app.domain.inventory.models import Cluster, Host
from app.domain.inventory.service import sync_inventory
from app.domain.plugin.package import IOFILTER_NAME, IOFILTER_VERSION, appliance_url, vib_file_name
from app.domain.vcenters.tasks import connected
from app.tasks.registry import Step, TaskContext, TaskDefinition, TaskFailed

H = HostFilterStatus


async def _cluster(session: AsyncSession, cluster_id: str) -> tuple[Cluster, list[Host]]:
    cluster = await inventory.get(session, Cluster, cluster_id)
    if cluster is None:
        raise TaskFailed("not_found", f"cluster {cluster_id} no longer exists")
    hosts = (await inventory.hosts_of(session, [cluster.id]))[cluster.id]
    return cluster, hosts


async def vib_url(ctx: TaskContext) -> str:
    async with ctx.sessionmaker() as session:
        appliance = await session.get(Appliance, 1)
    assert appliance is not None
    base = appliance_url(appliance.hostname, ctx.platform.settings.port)
    return f"{base}/iofilter/{vib_file_name()}"


async def _jetstream_filter(vc: VCenterSession, cluster_moref: str) -> ClusterFilter | None:
    return next(
        (f for f in await vc.query_iofilters(cluster_moref) if f.name == IOFILTER_NAME), None
    )


def apply_filter_state(
    cluster: Cluster, hosts: Sequence[Host], found: ClusterFilter | None, operation: str
) -> ClusterStatus:
    """Write vCenter's view of the filter onto the cluster and host rows."""
    states = {h.host_moref: h for h in found.hosts} if found else {}
    installed = 0
    for host in hosts:
        state = states.get(host.moref)
        if state is not None and state.issue:
            host.iofilter_status = H.FAILED.value
            host.issue = state.issue
        elif state is not None and state.installed:
            host.iofilter_status = H.INSTALLED.value
            host.issue = None
        else:
            host.iofilter_status = H.NOT_INSTALLED.value
            host.issue = None
        installed += host.iofilter_status == H.INSTALLED.value
    status = outcome(installed, len(hosts), removing=operation == "uninstall")
    if operation == "uninstall" and any(h.issue for h in hosts):
        status = ClusterStatus.PARTIALLY_CONFIGURED
    cluster.iofilter_id = found.filter_id if found else None
    cluster.iofilter_version = found.version if found else None
    cluster.iofilter_status = (
        "installed"
        if status is ClusterStatus.CONFIGURED
        else ("partial" if found else "not_installed")
    )
    cluster.last_operation = operation
    return status


async def _mark_hosts(
    ctx: TaskContext, status: HostFilterStatus, only_failed: bool = False
) -> None:
    async with ctx.sessionmaker() as session:
        _cluster_row, hosts = await _cluster(session, ctx.entity_id)
        for host in hosts:
            if not only_failed or host.iofilter_status in {H.FAILED.value, H.NOT_INSTALLED.value}:
                host.iofilter_status = status.value
        await session.commit()


async def check_hosts(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        cluster, _hosts = await _cluster(session, ctx.entity_id)
        vcenter_id, moref = cluster.vcenter_id, cluster.moref
    async with connected(ctx, vcenter_id) as vc:
        facts = await vc.inventory()
        existing = await _jetstream_filter(vc, moref)
    if existing is not None and existing.version != IOFILTER_VERSION:
        # Installing over another version is an upgrade, and upgrades need maintenance mode.
        ctx.result["upgrade_from"] = existing.version
        if not ctx.params.get("allow_maintenance_mode"):
            raise TaskFailed(
                "maintenance_mode_required",
                f"IO filter {existing.version} is installed; installing {IOFILTER_VERSION} "
                "upgrades it host by host in maintenance mode: pass allow_maintenance_mode=true",
            )
    await sync_inventory(ctx.platform, vcenter_id, facts)
    async with ctx.sessionmaker() as session:
        cluster, hosts = await _cluster(session, ctx.entity_id)
        mixed = mixed_versions(hosts)
    if mixed:
        raise TaskFailed(
            "mixed_esxi_versions",
            "hosts run different ESXi builds: "
            + ", ".join(f"{m['host']} {m['esxi_version']} ({m['esxi_build']})" for m in mixed),
        )
    await _mark_hosts(ctx, H.INSTALLING, only_failed=True)


async def install_filter(ctx: TaskContext) -> None:
    url = await vib_url(ctx)
    async with ctx.sessionmaker() as session:
        cluster, _hosts = await _cluster(session, ctx.entity_id)
        moref, vcenter_id = cluster.moref, cluster.vcenter_id
    async with connected(ctx, vcenter_id) as vc:
        result = await vc.install_iofilter(moref, url)
    ctx.result["iofilter"] = {"id": result.filter_id, "version": result.version}


async def uninstall_filter(ctx: TaskContext) -> None:
    await _mark_hosts(ctx, H.UNINSTALLING)
    async with ctx.sessionmaker() as session:
        cluster, _hosts = await _cluster(session, ctx.entity_id)
        moref, vcenter_id = cluster.moref, cluster.vcenter_id
    async with connected(ctx, vcenter_id) as vc:
        found = await _jetstream_filter(vc, moref)
        if found is not None:
            await vc.uninstall_iofilter(moref, found.filter_id)


async def upgrade_filter(ctx: TaskContext) -> None:
    await _mark_hosts(ctx, H.UPGRADING)
    url = await vib_url(ctx)
    async with ctx.sessionmaker() as session:
        cluster, _hosts = await _cluster(session, ctx.entity_id)
        moref, vcenter_id = cluster.moref, cluster.vcenter_id
    async with connected(ctx, vcenter_id) as vc:
        found = await _jetstream_filter(vc, moref)
        if found is None:
            raise TaskFailed("not_configured", "the IO filter is not installed on this cluster")
        result = await vc.upgrade_iofilter(moref, found.filter_id, url)
    ctx.result["iofilter"] = {"id": result.filter_id, "version": result.version}


async def resolve_filter_errors(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        cluster, _hosts = await _cluster(session, ctx.entity_id)
        moref, vcenter_id = cluster.moref, cluster.vcenter_id
    await _mark_hosts(ctx, H.INSTALLING, only_failed=True)
    async with connected(ctx, vcenter_id) as vc:
        found = await _jetstream_filter(vc, moref)
        if found is None:
            await vc.install_iofilter(moref, await vib_url(ctx))
        else:
            await vc.resolve_iofilter_errors(moref, found.filter_id)


async def check_host(ctx: TaskContext) -> None:
    """Read the inventory again; the host's issue must be one a retry can fix (vCenter cannot
    install anything on a host that does not respond or runs without CIM)."""
    async with ctx.sessionmaker() as session:
        cluster, _hosts = await _cluster(session, ctx.entity_id)
        vcenter_id = cluster.vcenter_id
    async with connected(ctx, vcenter_id) as vc:
        facts = await vc.inventory()
    await sync_inventory(ctx.platform, vcenter_id, facts)
    async with ctx.sessionmaker() as session:
        host = await inventory.get(session, Host, str(ctx.params["host_id"]))
        if host is None or host.cluster_id != ctx.entity_id:
            raise TaskFailed("not_found", f"host {ctx.params['host']} left the cluster")
        if (issue := blocking_issue(host)) is not None:
            raise TaskFailed("host_issue_persists", issue)
        if host.iofilter_status in {H.FAILED.value, H.NOT_INSTALLED.value}:
            host.iofilter_status = H.INSTALLING.value
        await session.commit()


async def finalize(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        cluster, _hosts = await _cluster(session, ctx.entity_id)
        moref, vcenter_id = cluster.moref, cluster.vcenter_id
    async with connected(ctx, vcenter_id) as vc:
        found = await _jetstream_filter(vc, moref)
    async with ctx.sessionmaker() as session:
        cluster, hosts = await _cluster(session, ctx.entity_id)
        operation = found.op_type if found else "uninstall"
        status = apply_filter_state(cluster, hosts, found, operation)
        cluster.status = status.value
        cluster.active_task_id = None
        issues = [{"host": h.name, "issue": h.issue} for h in hosts if h.issue]
        await reconcile_host_alarms(session, ctx.clock.now())
        events.record(
            session,
            at=ctx.clock.now(),
            actor=ctx.actor,
            action=f"cluster.{status.value}",
            message=f"cluster {cluster.name} is {status.value}"
            + (f" ({len(issues)} host issue(s))" if issues else ""),
            entity=("cluster", cluster.id, cluster.name),
            task_id=ctx.task_id,
            details={"issues": issues},
        )
        await session.commit()
    ctx.result["status"] = status.value
    ctx.result["issues"] = issues


async def release_cluster(ctx: TaskContext) -> None:
    code, message = ctx.failure or ("failed", "the task failed")
    async with ctx.sessionmaker() as session:
        cluster, hosts = await _cluster(session, ctx.entity_id)
        if cluster.active_task_id != ctx.task_id:
            return
        cluster.active_task_id = None
        previous = str(ctx.params.get("previous_status", ClusterStatus.ERROR.value))
        # Refused before any host was touched: the cluster is as it was.
        untouched = code in {
            "mixed_esxi_versions",
            "maintenance_mode_required",
            "host_issue_persists",
        }
        cluster.status = previous if untouched else ClusterStatus.ERROR.value
        for host in hosts:
            if host.iofilter_status in {
                H.INSTALLING.value,
                H.UNINSTALLING.value,
                H.UPGRADING.value,
            }:
                host.iofilter_status = H.FAILED.value
                host.issue = f"{code}: {message}"
        await reconcile_host_alarms(session, ctx.clock.now())
        await session.commit()


async def sync_filters(ctx: TaskContext) -> None:
    """Read each idle cluster's IO filter from vCenter (another MSA may have installed it), and
    push it to hosts that joined a configured cluster, as vCenter does for VAIO filters."""
    async with ctx.sessionmaker() as session:
        rows = await inventory.all_of(session, Cluster, ctx.entity_id)
        idle = [(c.id, c.moref) for c in rows if c.active_task_id is None]
    if not idle:
        return
    url = await vib_url(ctx)
    async with connected(ctx) as vc:
        for cluster_id, moref in idle:
            found = await _jetstream_filter(vc, moref)
            async with ctx.sessionmaker() as session:
                cluster, hosts = await _cluster(session, cluster_id)
                joined = [h.name for h in hosts if h.moref not in _installed_hosts(found)]
            if found is not None and joined and cluster.status in _CONFIGURED:
                found = await vc.install_iofilter(moref, url)
                await ctx.log(f"IO filter pushed to {', '.join(joined)} in cluster {cluster.name}")
            if found is None and cluster.status == ClusterStatus.UNCONFIGURED.value:
                continue
            async with ctx.sessionmaker() as session:
                cluster, hosts = await _cluster(session, cluster_id)
                operation = found.op_type if found else "uninstall"
                cluster.status = apply_filter_state(cluster, hosts, found, operation).value
                await reconcile_host_alarms(session, ctx.clock.now())
                await session.commit()


_CONFIGURED = {ClusterStatus.CONFIGURED.value, ClusterStatus.PARTIALLY_CONFIGURED.value}


def _installed_hosts(found: ClusterFilter | None) -> set[str]:
    return {h.host_moref for h in found.hosts if h.installed} if found else set()


CONFIGURE_CLUSTER = TaskDefinition(
    type="configure_cluster",
    steps=(
        Step("check_hosts", check_hosts),
        Step("install_filter", install_filter, weight=6),
        Step("finalize", finalize),
    ),
    cancellable=False,
    compensate=release_cluster,
)
UNCONFIGURE_CLUSTER = TaskDefinition(
    type="unconfigure_cluster",
    steps=(Step("uninstall_filter", uninstall_filter, weight=6), Step("finalize", finalize)),
    cancellable=False,
    compensate=release_cluster,
)
UPGRADE_CLUSTER = TaskDefinition(
    type="upgrade_cluster",
    steps=(Step("upgrade_filter", upgrade_filter, weight=6), Step("finalize", finalize)),
    cancellable=False,
    compensate=release_cluster,
)
RESOLVE_CLUSTER_ISSUES = TaskDefinition(
    type="resolve_cluster_issues",
    steps=(Step("resolve", resolve_filter_errors, weight=4), Step("finalize", finalize)),
    cancellable=False,
    compensate=release_cluster,
)

# Repair-Cluster: the hosts read again (and checked as a configure checks them), then the
# filter put back on every host that lacks it or failed.
REPAIR_CLUSTER = TaskDefinition(
    type="repair_cluster",
    steps=(
        Step("check_hosts", check_hosts),
        Step("repair", resolve_filter_errors, weight=4),
        Step("finalize", finalize),
    ),
    cancellable=False,
    compensate=release_cluster,
)
RESOLVE_HOST_ISSUE = TaskDefinition(
    type="resolve_host_issue",
    steps=(
        Step("check_host", check_host),
        Step("resolve", resolve_filter_errors, weight=2),
        Step("finalize", finalize),
    ),
    cancellable=False,
    compensate=release_cluster,
)

DEFINITIONS = (
    CONFIGURE_CLUSTER,
    UNCONFIGURE_CLUSTER,
    UPGRADE_CLUSTER,
    RESOLVE_CLUSTER_ISSUES,
    REPAIR_CLUSTER,
    RESOLVE_HOST_ISSUE,
)
