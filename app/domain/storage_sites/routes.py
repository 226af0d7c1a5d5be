from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response, status

from app.api.deps import (
    AdminUser,
    CurrentUser,
    OperatorUser,
    paged,
    provide,
)
from app.api.responses import ACCEPTED, accepted, page_of
from app.core.pagination import PageParams, by_attributes
from app.core.schemas import Page
from app.domain.storage_sites.schemas import StorageSiteCreate, StorageSiteRead
from app.domain.storage_sites.service import StorageSiteService, to_read
from app.tasks.schemas import TaskRead

router = APIRouter(prefix="/storage-sites", tags=["storage sites"])
StorageSiteServiceDep = Annotated[StorageSiteService, provide(StorageSiteService)]


SORT = by_attributes("name", "type", "id", "created_at")


@router.post("", response_model=StorageSiteRead, status_code=status.HTTP_201_CREATED)
async def create_storage_site(
    spec: StorageSiteCreate,
    admin: AdminUser,
    storage_site_service: StorageSiteServiceDep,
) -> StorageSiteRead:
    """Add an Azure Blob, S3 or local storage site; it is saved only if the appliance can
    connect with these credentials (422 with the reason otherwise)."""
    return to_read(await storage_site_service.create(spec, admin))


@router.get("", response_model=Page[StorageSiteRead])
async def list_storage_sites(
    _user: CurrentUser,
    storage_site_service: StorageSiteServiceDep,
    page: PageParams = paged(SORT),
) -> Page[StorageSiteRead]:
    items = [to_read(s) for s in await storage_site_service.all()]
    return page_of(items, page, SORT, "name")


@router.get("/{site_id}", response_model=StorageSiteRead)
async def get_storage_site(
    site_id: str,
    _user: CurrentUser,
    storage_site_service: StorageSiteServiceDep,
) -> StorageSiteRead:
    return to_read(await storage_site_service.get(site_id))


@router.delete("/{site_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_storage_site(
    site_id: str,
    admin: AdminUser,
    storage_site_service: StorageSiteServiceDep,
) -> Response:
    await storage_site_service.delete(site_id, admin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{site_id}/actions/scan-domains", response_model=TaskRead, status_code=202, responses=ACCEPTED
)
async def scan_domains(
    site_id: str,
    operator: OperatorUser,
    storage_site_service: StorageSiteServiceDep,
    response: Response,
) -> TaskRead:
    """Task whose result lists the domains found in the store's containers."""
    task = await storage_site_service.scan_domains(site_id, operator)
    return accepted(response, task)
