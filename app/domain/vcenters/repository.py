from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.vcenters.models import VCenter


async def get(session: AsyncSession, vcenter_id: str) -> VCenter | None:
    return await session.get(VCenter, vcenter_id)


async def all_(session: AsyncSession) -> Sequence[VCenter]:
    return (await session.scalars(select(VCenter).order_by(VCenter.created_at))).all()
