from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from app.api.deps import (
    AdminUser,
    CurrentUser,
    OperatorUser,
    PlatformDep,
    paged,
    provide,
)
from app.api.responses import ACCEPTED, accepted, page_of
from app.core.pagination import MAX_LIMIT, PageParams, by_attributes
from app.core.schemas import Page, PageMeta
from app.domain.drvas.images import DrvaImageLibrary
from app.domain.drvas.schemas import DrvaCreate, DrvaImageRead, DrvaRead, VolumeCreate, VolumeRead
from app.domain.drvas.service import DrvaService, volume_read
from app.tasks.schemas import TaskRead
from app.tasks.service import to_read

router = APIRouter(tags=["drvas"])
DrvaServiceDep = Annotated[DrvaService, provide(DrvaService)]


IMAGE_SORT = by_attributes("version", "file_name", "id", "size_bytes")
DRVA_SORT = by_attributes("name", "status", "id", "cluster_id", "host_id")
VOLUME_SORT = by_attributes("id", "type", "size_gb", "status", "created_at")


@router.get("/drva-images", response_model=Page[DrvaImageRead])
async def list_drva_images(
    _user: CurrentUser, platform: PlatformDep, page: PageParams = paged(IMAGE_SORT)
) -> Page[DrvaImageRead]:
    items = [
        DrvaImageRead.model_validate(image, from_attributes=True)
        for image in await platform.worker(DrvaImageLibrary).images()
    ]
    return page_of(items, page, IMAGE_SORT, "version")


@router.post(
    "/drvas", response_model=TaskRead | Page[TaskRead], status_code=202, responses=ACCEPTED
)
async def deploy_drva(
    spec: DrvaCreate,
    admin: AdminUser,
    drva_service: DrvaServiceDep,
    response: Response,
) -> TaskRead | Page[TaskRead]:
    """Deploy a DRVA from the appliance's ISO (task `deploy_drva`). With `count` (or
    `one_per_host`), the appliance picks hosts without a DRVA itself and answers with one task per
    DRVA, named `<name>-1`, `<name>-2`…"""
    tasks = await drva_service.deploy(spec, admin)
    if not spec.many:
        return accepted(response, tasks[0])
    items = [to_read(task) for task in tasks]
    # Every task started, on one page of the largest size a list serves.
    return Page(items=items, meta=PageMeta(total=len(items), limit=MAX_LIMIT, offset=0))


@router.get("/drvas", response_model=Page[DrvaRead])
async def list_drvas(
    _user: CurrentUser,
    drva_service: DrvaServiceDep,
    page: PageParams = paged(DRVA_SORT),
    cluster_id: str | None = None,
) -> Page[DrvaRead]:
    items = await drva_service.all(cluster_id)
    return page_of(items, page, DRVA_SORT, "name")


@router.get("/drvas/{drva_id}", response_model=DrvaRead)
async def get_drva(
    drva_id: str,
    _user: CurrentUser,
    drva_service: DrvaServiceDep,
) -> DrvaRead:
    return (await drva_service.reads([await drva_service.get(drva_id)]))[0]


@router.delete("/drvas/{drva_id}", response_model=TaskRead, status_code=202, responses=ACCEPTED)
async def delete_drva(
    drva_id: str,
    admin: AdminUser,
    response: Response,
    drva_service: DrvaServiceDep,
) -> TaskRead:
    return accepted(response, await drva_service.delete(drva_id, admin))


@router.post(
    "/drvas/{drva_id}/actions/restart", response_model=TaskRead, status_code=202, responses=ACCEPTED
)
async def restart_drva(
    drva_id: str,
    operator: OperatorUser,
    drva_service: DrvaServiceDep,
    response: Response,
) -> TaskRead:
    return accepted(response, await drva_service.restart(drva_id, operator))


@router.post(
    "/drvas/{drva_id}/actions/redeploy",
    response_model=TaskRead,
    status_code=202,
    responses=ACCEPTED,
)
async def redeploy_drva(
    drva_id: str,
    admin: AdminUser,
    response: Response,
    drva_service: DrvaServiceDep,
) -> TaskRead:
    """A new VM for the DRVA: same identity, host, addresses and log volumes."""
    return accepted(response, await drva_service.redeploy(drva_id, admin))


@router.post(
    "/drvas/{drva_id}/replication-log-volumes",
    response_model=TaskRead,
    status_code=202,
    responses=ACCEPTED,
)
async def add_log_volume(
    drva_id: str,
    spec: VolumeCreate,
    operator: OperatorUser,
    drva_service: DrvaServiceDep,
    response: Response,
) -> TaskRead:
    task = await drva_service.add_volume(drva_id, spec, operator)
    return accepted(response, task)


@router.get("/drvas/{drva_id}/replication-log-volumes", response_model=Page[VolumeRead])
async def list_log_volumes(
    drva_id: str,
    _user: CurrentUser,
    drva_service: DrvaServiceDep,
    page: PageParams = paged(VOLUME_SORT),
) -> Page[VolumeRead]:
    drva = (await drva_service.reads([await drva_service.get(drva_id)]))[0]
    return page_of(drva.replication_log_volumes, page, VOLUME_SORT, "created_at")


@router.get("/drvas/{drva_id}/replication-log-volumes/{volume_id}", response_model=VolumeRead)
async def get_log_volume(
    drva_id: str,
    volume_id: str,
    _user: CurrentUser,
    drva_service: DrvaServiceDep,
) -> VolumeRead:
    return volume_read(await drva_service.volume(drva_id, volume_id))


@router.delete(
    "/drvas/{drva_id}/replication-log-volumes/{volume_id}",
    response_model=TaskRead,
    status_code=202,
    responses=ACCEPTED,
)
async def delete_log_volume(
    drva_id: str,
    volume_id: str,
    operator: OperatorUser,
    drva_service: DrvaServiceDep,
    response: Response,
) -> TaskRead:
    task = await drva_service.delete_volume(drva_id, volume_id, operator)
    return accepted(response, task)
