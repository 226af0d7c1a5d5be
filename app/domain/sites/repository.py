from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import read_one
from app.core.pagination import PageParams, PageResult, paginate
from app.domain.sites.models import Site
from app.domain.sites.schemas import SiteRead

SORTABLE = {"name": Site.name, "role": Site.role, "created_at": Site.created_at, "id": Site.id}


async def list_page(
    session: AsyncSession, params: PageParams, role: str | None
) -> PageResult[Site]:
    query = select(Site)
    if role is not None:
        query = query.where(Site.role == role)
    return await paginate(session, query, params, SORTABLE, "name")


def read(connection: Connection, site_id: str) -> dict[str, Any] | None:
    """A site's `SiteRead` columns (a `Reader`'s work)."""
    return read_one(connection, Site, SiteRead.model_fields, site_id)


async def get(session: AsyncSession, site_id: str) -> Site | None:
    return await session.get(Site, site_id)


async def clashing_peer(session: AsyncSession, site_id: str, url: str, name: str) -> Site | None:
    """A site already registered under this id, URL or name."""
    found: Site | None = await session.scalar(
        select(Site).where(
            (Site.peer_site_id == site_id)
            | (Site.url == url)
            | (Site.name == name)
            | (Site.id == site_id)
        )
    )
    return found


async def peer_of(session: AsyncSession, site_id: str) -> Site | None:
    """The registered peer that is site `site_id`."""
    found: Site | None = await session.scalar(
        select(Site).where(Site.peer_site_id == site_id, Site.role == "remote")
    )
    return found


async def all_(session: AsyncSession) -> list[Site]:
    return list(await session.scalars(select(Site)))
