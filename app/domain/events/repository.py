from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import PageParams, PageResult, paginate
from app.domain.events.models import Event

SORTABLE = {"at": Event.seq, "action": Event.action, "actor": Event.actor}


async def list_page(
    session: AsyncSession,
    params: PageParams,
    *,
    action: str | None,
    entity_id: str | None,
    task_id: str | None,
    actor: str | None,
) -> PageResult[Event]:
    query = select(Event)
    if action is not None:
        query = query.where(Event.action == action)
    if entity_id is not None:
        query = query.where(Event.entity_id == entity_id)
    if task_id is not None:
        query = query.where(Event.task_id == task_id)
    if actor is not None:
        query = query.where(Event.actor == actor)
    return await paginate(session, query, params, SORTABLE, "at")
