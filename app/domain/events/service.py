"""The audit log: every change, with who, what, when and the task that made it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.ids import new_id
from app.core.pagination import PageParams, PageResult
from app.domain.events import repository
from app.domain.events.models import Event

EntityTriple = tuple[str | None, str | None, str | None]


def record(
    session: AsyncSession,
    *,
    at: dt.datetime,
    actor: str,
    action: str,
    message: str,
    entity: EntityTriple = (None, None, None),
    task_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> Event:
    """Adds the event to the caller's transaction, so it commits with the change it describes."""
    entity_type, entity_id, entity_name = entity
    event = Event(
        id=new_id("evt"),
        at=at,
        actor=actor,
        action=action,
        message=message,
        entity_type=entity_type,
        entity_id=entity_id,
        entity_name=entity_name,
        task_id=task_id,
        details=details or {},
    )
    session.add(event)
    return event


async def list_events(
    session: AsyncSession,
    params: PageParams,
    *,
    action: str | None,
    entity_id: str | None,
    task_id: str | None,
    actor: str | None,
) -> PageResult[Event]:
    return await repository.list_page(
        session, params, action=action, entity_id=entity_id, task_id=task_id, actor=actor
    )
