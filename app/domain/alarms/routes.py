from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CurrentUser, OperatorUser, PlatformDep, SessionDep, paged
from app.core.pagination import PageParams
from app.core.schemas import ApiModel, EntityRef, Page, Timestamp
from app.domain.alarms import service
from app.domain.alarms.models import Alarm
from app.domain.alarms.service import AlarmType

router = APIRouter(prefix="/alarms", tags=["alarms"])


class AlarmRead(ApiModel):
    id: str
    type: str
    severity: str
    entity: EntityRef
    message: str
    raised_at: Timestamp
    cleared_at: Timestamp | None
    acknowledged: bool
    acknowledged_by: str | None


def _read(alarm: Alarm) -> AlarmRead:
    return AlarmRead(
        id=alarm.id,
        type=alarm.type,
        severity=alarm.severity,
        entity=EntityRef(type=alarm.entity_type, id=alarm.entity_id, name=alarm.entity_name),
        message=alarm.message,
        raised_at=alarm.raised_at,
        cleared_at=alarm.cleared_at,
        acknowledged=alarm.acknowledged,
        acknowledged_by=alarm.acknowledged_by,
    )


@router.get("", response_model=Page[AlarmRead])
async def list_alarms(
    _user: CurrentUser,
    session: SessionDep,
    page: PageParams = paged(service.SORTABLE),
    active: bool | None = None,
    type: AlarmType | None = None,
    entity_id: str | None = None,
) -> Page[AlarmRead]:
    result = await service.list_alarms(
        session,
        page,
        is_active=active,
        alarm_type=type.value if type else None,
        entity_id=entity_id,
    )
    return Page(items=[_read(a) for a in result.items], meta=result.meta)


@router.post("/{alarm_id}/actions/acknowledge", response_model=AlarmRead)
async def acknowledge_alarm(
    alarm_id: str, user: OperatorUser, session: SessionDep, platform: PlatformDep
) -> AlarmRead:
    alarm = await service.acknowledge(session, alarm_id, user.username, platform.clock.now())
    return _read(alarm)
