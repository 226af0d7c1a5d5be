from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from app.api.deps import AdminUser, CurrentUser, provide
from app.api.responses import ACCEPTED, accepted
from app.domain.clusters.schemas import ClusterAction, ClusterIssues, HostIssue
from app.domain.clusters.service import ClusterService
from app.tasks.schemas import TaskRead

router = APIRouter(prefix="/clusters", tags=["clusters"])
# A host's own actions (`Resolve-HostIssue`) act on its cluster's IO filter.
hosts_router = APIRouter(prefix="/hosts", tags=["clusters"])
ClusterServiceDep = Annotated[ClusterService, provide(ClusterService)]


@router.post(
    "/{cluster_id}/actions/configure", response_model=TaskRead, status_code=202, responses=ACCEPTED
)
async def configure_cluster(
    cluster_id: str,
    admin: AdminUser,
    cluster_service: ClusterServiceDep,
    response: Response,
    action: ClusterAction | None = None,
) -> TaskRead:
    """Install the IO filter on every host of the cluster through vCenter."""
    consent = (action or ClusterAction()).allow_maintenance_mode
    task = await cluster_service.configure(cluster_id, consent, admin)
    return accepted(response, task)


@router.post(
    "/{cluster_id}/actions/unconfigure",
    response_model=TaskRead,
    status_code=202,
    responses=ACCEPTED,
)
async def unconfigure_cluster(
    cluster_id: str,
    admin: AdminUser,
    cluster_service: ClusterServiceDep,
    response: Response,
    action: ClusterAction | None = None,
) -> TaskRead:
    """Uninstall the IO filter; hosts enter maintenance mode one at a time."""
    consent = (action or ClusterAction()).allow_maintenance_mode
    task = await cluster_service.unconfigure(cluster_id, consent, admin)
    return accepted(response, task)


@router.post(
    "/{cluster_id}/actions/upgrade", response_model=TaskRead, status_code=202, responses=ACCEPTED
)
async def upgrade_cluster(
    cluster_id: str,
    admin: AdminUser,
    cluster_service: ClusterServiceDep,
    response: Response,
    action: ClusterAction | None = None,
) -> TaskRead:
    consent = (action or ClusterAction()).allow_maintenance_mode
    task = await cluster_service.upgrade(cluster_id, consent, admin)
    return accepted(response, task)


@router.post(
    "/{cluster_id}/actions/resolve-issues",
    response_model=TaskRead,
    status_code=202,
    responses=ACCEPTED,
)
async def resolve_cluster_issues(
    cluster_id: str,
    admin: AdminUser,
    cluster_service: ClusterServiceDep,
    response: Response,
) -> TaskRead:
    """Retry the hosts where the last operation failed."""
    task = await cluster_service.resolve_issues(cluster_id, admin)
    return accepted(response, task)


@router.get("/{cluster_id}/issues", response_model=ClusterIssues)
async def list_cluster_issues(
    cluster_id: str,
    _user: CurrentUser,
    cluster_service: ClusterServiceDep,
) -> ClusterIssues:
    cluster, hosts = await cluster_service.issues(cluster_id)
    return ClusterIssues(
        cluster_id=cluster.id,
        operation=cluster.last_operation,
        items=[
            HostIssue(host_id=h.id, host=h.name, iofilter_status=h.iofilter_status, issue=issue)
            for h, issue in hosts
        ],
    )


@router.post(
    "/{cluster_id}/actions/repair",
    response_model=TaskRead,
    status_code=202,
    responses=ACCEPTED,
)
async def repair_cluster(
    cluster_id: str,
    admin: AdminUser,
    cluster_service: ClusterServiceDep,
    response: Response,
) -> TaskRead:
    """Repair-Cluster: read the hosts again from vCenter and put the IO filter back on every
    host where it is missing or failed (a configured, partly configured or failed cluster)."""
    task = await cluster_service.repair(cluster_id, admin)
    return accepted(response, task)


@hosts_router.post(
    "/{host_id}/actions/resolve-issue",
    response_model=TaskRead,
    status_code=202,
    responses=ACCEPTED,
)
async def resolve_host_issue(
    host_id: str,
    admin: AdminUser,
    cluster_service: ClusterServiceDep,
    response: Response,
) -> TaskRead:
    """Resolve-HostIssue: read the host again from vCenter and retry the IO filter on it; the
    task fails, naming the issue, while the host still does not respond or runs without CIM.
    409 when the host has no issue."""
    task = await cluster_service.resolve_host_issue(host_id, admin)
    return accepted(response, task)
