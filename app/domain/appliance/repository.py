"""The queries of the appliance record (one row) and its local site."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.appliance.models import Appliance
from app.domain.sites.models import Site

APPLIANCE_ROW = 1


async def appliance_row(session: AsyncSession) -> Appliance:
    row = await session.get(Appliance, APPLIANCE_ROW)
    assert row is not None, "the appliance row is created at first boot"
    return row


async def appliance_and_site(session: AsyncSession) -> tuple[Appliance, Site]:
    appliance = await appliance_row(session)
    site = await session.get(Site, appliance.local_site_id)
    assert site is not None
    return appliance, site


async def site_named(session: AsyncSession, name: str) -> str | None:
    site_id: str | None = await session.scalar(select(Site.id).where(Site.name == name))
    return site_id


async def set_clock(session: AsyncSession, at: dt.datetime) -> None:
    await session.execute(
        update(Appliance).where(Appliance.id == APPLIANCE_ROW).values(clock_at=at)
    )
