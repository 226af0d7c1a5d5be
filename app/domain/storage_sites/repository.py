"""The queries of storage sites."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.storage_sites.models import StorageSite


async def all_(session: AsyncSession) -> Sequence[StorageSite]:
    return (await session.scalars(select(StorageSite).order_by(StorageSite.name))).all()


async def get(session: AsyncSession, site_id: str) -> StorageSite | None:
    return await session.get(StorageSite, site_id)


async def name_taken(session: AsyncSession, name: str) -> bool:
    return await session.scalar(select(StorageSite.id).where(StorageSite.name == name)) is not None
