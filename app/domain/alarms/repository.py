"""The queries of alarms."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import insert_of
from app.core.ids import new_id
from app.domain.alarms.models import Alarm


async def get(session: AsyncSession, alarm_id: str) -> Alarm | None:
    return await session.get(Alarm, alarm_id)


async def active(session: AsyncSession, alarm_type: str, entity_id: str) -> Alarm | None:
    alarm: Alarm | None = await session.scalar(
        select(Alarm).where(
            Alarm.type == alarm_type,
            Alarm.entity_id == entity_id,
            Alarm.cleared_at.is_(None),
        )
    )
    return alarm


async def insert_active(
    session: AsyncSession,
    *,
    alarm_type: str,
    severity: str,
    entity: tuple[str, str, str | None],
    message: str,
    at: dt.datetime,
) -> str | None:
    """Inserts the alarm unless one of its type is active for the entity (the partial unique
    index `uq_alarm_active` decides between concurrent writers); its id, or None."""
    entity_type, entity_id, entity_name = entity
    inserted: str | None = await session.scalar(
        insert_of(session.get_bind().dialect.name)(Alarm)
        .values(
            id=new_id("alarm"),
            type=alarm_type,
            severity=severity,
            entity_type=entity_type,
            entity_id=entity_id,
            entity_name=entity_name,
            message=message,
            raised_at=at,
            acknowledged=False,
        )
        .on_conflict_do_nothing(
            index_elements=[Alarm.type, Alarm.entity_id], index_where=Alarm.cleared_at.is_(None)
        )
        .returning(Alarm.id)
    )
    return inserted


def alarms(
    *, is_active: bool | None, alarm_type: str | None, entity_id: str | None
) -> Select[Alarm]:
    query = select(Alarm)
    if is_active is not None:
        query = query.where(
            Alarm.cleared_at.is_(None) if is_active else Alarm.cleared_at.is_not(None)
        )
    if alarm_type is not None:
        query = query.where(Alarm.type == alarm_type)
    if entity_id is not None:
        query = query.where(Alarm.entity_id == entity_id)
    return query


async def active_of_type(session: AsyncSession, alarm_type: str) -> Sequence[Alarm]:
    found = await session.scalars(
        select(Alarm).where(Alarm.type == alarm_type, Alarm.cleared_at.is_(None))
    )
    return found.all()
