from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Response

from app.api.deps import (
    AdminUser,
    CurrentUser,
    OperatorUser,
    ReaderDep,
    SessionDep,
    paged,
    provide,
)
from app.core.errors import NotFound
from app.core.pagination import PageParams
from app.core.schemas import Page
from app.domain.sites import repository
from app.domain.sites.schemas import PeerCreate, SiteRead
from app.domain.sites.service import SiteService

router = APIRouter(prefix="/sites", tags=["sites"])
SiteServiceDep = Annotated[SiteService, provide(SiteService)]


@router.get("", response_model=Page[SiteRead])
async def list_sites(
    _user: CurrentUser,
    session: SessionDep,
    page: PageParams = paged(repository.SORTABLE),
    role: Literal["local", "remote"] | None = None,
) -> Page[SiteRead]:
    result = await repository.list_page(session, page, role)
    return Page(items=[SiteRead.model_validate(s) for s in result.items], meta=result.meta)


@router.get("/{site_id}", response_model=SiteRead)
async def get_site(site_id: str, _user: CurrentUser, reader: ReaderDep) -> SiteRead:
    site = await reader.run(lambda connection: repository.read(connection, site_id))
    if site is None:
        raise NotFound(f"site {site_id} does not exist")
    return SiteRead.model_validate(site)


@router.post("", response_model=SiteRead, status_code=201)
async def add_peer(
    spec: PeerCreate,
    admin: AdminUser,
    site_service: SiteServiceDep,
) -> SiteRead:
    """Register a peer appliance (the other site of the pair). It must answer over HTTPS with
    these credentials (422 with the reason otherwise); the password is encrypted and never
    returned."""
    site = await site_service.add_peer(
        spec.url,
        spec.username,
        spec.password.get_secret_value(),
        spec.certificate_sha256,
        admin,
        label=spec.name,
    )
    return SiteRead.model_validate(site)


@router.post("/{site_id}/actions/check", response_model=SiteRead)
async def check_peer(
    site_id: str,
    _operator: OperatorUser,
    site_service: SiteServiceDep,
) -> SiteRead:
    return SiteRead.model_validate(await site_service.check(site_id))


@router.delete("/{site_id}", status_code=204)
async def remove_peer(
    site_id: str,
    admin: AdminUser,
    site_service: SiteServiceDep,
) -> Response:
    await site_service.delete(site_id, admin)
    return Response(status_code=204)
