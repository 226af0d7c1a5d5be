from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from app.api.deps import CurrentUser, PageDep, SessionDep
from app.core.errors import NotFound
from app.core.schemas import Page
from app.domain.sites import repository
from app.domain.sites.schemas import SiteRead

router = APIRouter(prefix="/sites", tags=["sites"])


@router.get("", response_model=Page[SiteRead])
async def list_sites(
    _user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    role: Literal["local", "remote"] | None = None,
) -> Page[SiteRead]:
    result = await repository.list_page(session, page, role)
    return Page(items=[SiteRead.model_validate(s) for s in result.items], meta=result.meta)


@router.get("/{site_id}", response_model=SiteRead)
async def get_site(site_id: str, _user: CurrentUser, session: SessionDep) -> SiteRead:
    site = await repository.get(session, site_id)
    if site is None:
        raise NotFound(f"site {site_id} does not exist")
    return SiteRead.model_validate(site)
