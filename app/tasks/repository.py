"""Every query on tasks and their events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import PageParams, PageResult, paginate
from app.tasks.models import Task, TaskEvent
from app.tasks.states import TaskStatus, allowed_sources

SORTABLE = {
    "created_at": Task.seq,
    "type": Task.type,
    "status": Task.status,
    "finished_at": Task.finished_at,
}


async def get(session: AsyncSession, task_id: str) -> Task | None:
    return await session.scalar(select(Task).where(Task.id == task_id))


async def list_page(
    session: AsyncSession,
    params: PageParams,
    *,
    status: str | None,
    task_type: str | None,
    entity_id: str | None,
) -> PageResult[Task]:
    query = select(Task)
    if status is not None:
        query = query.where(Task.status == status)
    if task_type is not None:
        query = query.where(Task.type == task_type)
    if entity_id is not None:
        query = query.where(Task.entity_id == entity_id)
    return await paginate(session, query, params, SORTABLE, "created_at")


async def events(session: AsyncSession, task_id: str) -> Sequence[TaskEvent]:
    rows = await session.scalars(
        select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id)
    )
    return rows.all()


def add_event(
    session: AsyncSession, task_id: str, at: dt.datetime, kind: str, message: str
) -> None:
    session.add(TaskEvent(task_id=task_id, at=at, kind=kind, message=message))


async def transition(
    session: AsyncSession,
    task_id: str,
    expected: Sequence[TaskStatus],
    target: TaskStatus,
    **values: Any,
) -> bool:
    """Guarded update: only moves the task if it is still in one of the expected states."""
    outcome = await session.execute(
        update(Task)
        .where(Task.id == task_id, Task.status.in_(allowed_sources(target, expected)))
        .values(status=target.value, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(outcome, "rowcount", 0))


async def ids_in(session: AsyncSession, statuses: Sequence[TaskStatus]) -> list[str]:
    rows = await session.scalars(
        select(Task.id).where(Task.status.in_([s.value for s in statuses])).order_by(Task.seq)
    )
    return list(rows.all())
