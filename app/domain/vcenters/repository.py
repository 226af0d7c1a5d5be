from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.vcenters.models import VCenter


async def get(session: AsyncSession, vcenter_id: str) -> VCenter | None:
    return await session.get(VCenter, vcenter_id)


async def all_(session: AsyncSession) -> Sequence[VCenter]:
    return (await session.scalars(select(VCenter).order_by(VCenter.created_at))).all()


async def claim(session: AsyncSession, vcenter_id: str, sources: list[str], **values: Any) -> bool:
    """Guarded update: succeeds for exactly one caller while no other task holds the vCenter."""
    result = await session.execute(
        update(VCenter)
        .where(
            VCenter.id == vcenter_id,
            VCenter.status.in_(sources),
            VCenter.active_task_id.is_(None),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
