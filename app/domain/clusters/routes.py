from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from app.api.deps import AdminUser, CurrentUser, provide
from app.api.responses import ACCEPTED, accepted
from app.domain.clusters.schemas import ClusterAction, ClusterIssues, HostIssue
from app.domain.clusters.service import ClusterService
from app.tasks.schemas import TaskRead

router = APIRouter(prefix="/clusters", tags=["clusters"])
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
            HostIssue(
                host_id=h.id, host=h.name, iofilter_status=h.iofilter_status, issue=h.issue or ""
            )
            for h in hosts
        ],
    )
