"""Alarms: raised once per (type, entity) while the condition lasts, cleared when it ends."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, NotFound
from app.core.pagination import PageParams, PageResult, paginate
from app.domain.alarms import repository
from app.domain.alarms.models import Alarm
from app.domain.events import service as events


class AlarmType(StrEnum):
    BACKPRESSURE = "backpressure"
    BITMAP = "bitmap"
    RPO_VIOLATION = "rpo_violation"
    REPLICATION_DISABLED = "replication_disabled"
    DRVA_DOWN = "drva_down"
    HOST_ISSUE = "host_issue"
    SUBSCRIPTION_GRACE = "subscription_grace"
    SUBSCRIPTION_EXPIRED = "subscription_expired"


SEVERITY = {
    AlarmType.DRVA_DOWN: "critical",
    AlarmType.HOST_ISSUE: "warning",
    AlarmType.REPLICATION_DISABLED: "warning",
    AlarmType.RPO_VIOLATION: "warning",
    AlarmType.BACKPRESSURE: "warning",
    AlarmType.BITMAP: "critical",
    AlarmType.SUBSCRIPTION_GRACE: "warning",
    AlarmType.SUBSCRIPTION_EXPIRED: "critical",
}

SORTABLE = {"raised_at": Alarm.raised_at, "type": Alarm.type, "severity": Alarm.severity}


async def raise_alarm(
    session: AsyncSession,
    *,
    alarm_type: AlarmType,
    entity: tuple[str, str, str | None],
    message: str,
    at: dt.datetime,
) -> bool:
    """Adds the alarm to the caller's transaction unless one is already active; True when this
    call raised it.

    The insert does nothing when another transaction raised the same alarm first (the partial
    unique index `uq_alarm_active`), so two writers seeing the same condition leave one alarm
    that one clear ends, and neither transaction fails."""
    _entity_type, entity_id, _entity_name = entity
    if await repository.active(session, alarm_type.value, entity_id) is not None:
        return False
    inserted = await repository.insert_active(
        session,
        alarm_type=alarm_type.value,
        severity=SEVERITY[alarm_type],
        entity=entity,
        message=message,
        at=at,
    )
    if inserted is None:
        return False
    events.record(
        session,
        at=at,
        actor="system",
        action="alarm.raised",
        message=f"{alarm_type.value} alarm: {message}",
        entity=entity,
    )
    return True


async def clear_alarm(
    session: AsyncSession, *, alarm_type: AlarmType, entity_id: str, at: dt.datetime
) -> None:
    existing = await repository.active(session, alarm_type.value, entity_id)
    if existing is not None:
        existing.cleared_at = at


async def list_alarms(
    session: AsyncSession,
    params: PageParams,
    *,
    is_active: bool | None,
    alarm_type: str | None,
    entity_id: str | None,
) -> PageResult[Alarm]:
    query = repository.alarms(is_active=is_active, alarm_type=alarm_type, entity_id=entity_id)
    return await paginate(session, query, params, SORTABLE, "raised_at")


async def acknowledge(session: AsyncSession, alarm_id: str, actor: str, at: dt.datetime) -> Alarm:
    alarm = await repository.get(session, alarm_id)
    if alarm is None:
        raise NotFound(f"alarm {alarm_id} does not exist")
    if alarm.acknowledged:
        raise Conflict(f"alarm {alarm_id} is already acknowledged", error_code="invalid_state")
    alarm.acknowledged = True
    alarm.acknowledged_by = actor
    events.record(
        session,
        at=at,
        actor=actor,
        action="alarm.acknowledged",
        message=f"{alarm.type} alarm acknowledged",
        entity=(alarm.entity_type, alarm.entity_id, alarm.entity_name),
    )
    await session.commit()
    return alarm
