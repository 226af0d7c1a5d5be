from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import PageParams, PageResult, paginate
from app.domain.sites.models import Site

SORTABLE = {"name": Site.name, "role": Site.role, "created_at": Site.created_at, "id": Site.id}


async def list_page(
    session: AsyncSession, params: PageParams, role: str | None
) -> PageResult[Site]:
    query = select(Site)
    if role is not None:
        query = query.where(Site.role == role)
    return await paginate(session, query, params, SORTABLE, "name")


async def get(session: AsyncSession, site_id: str) -> Site | None:
    return await session.get(Site, site_id)
