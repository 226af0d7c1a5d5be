"""Alarms raised by two writers at once: one alarm, ended by one clear."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from app.domain.alarms.models import Alarm
from app.domain.alarms.service import AlarmType, clear_alarm, raise_alarm
from app.domain.events.models import Event
from tests.conftest import Appliance

ENTITY = ("drva", "drva-racing", "jss-drva-racing")


async def test_two_writers_raising_one_alarm_leave_one_that_one_clear_ends(
    appliance: Appliance,
) -> None:
    container = appliance.container
    at = container.platform.clock.now()
    async with (
        container.platform.sessionmaker() as first,
        container.platform.sessionmaker() as second,
    ):
        # Both look before either commits: neither sees the other's alarm.
        first_raised = await raise_alarm(
            first, alarm_type=AlarmType.DRVA_DOWN, entity=ENTITY, message="first look", at=at
        )
        late = asyncio.create_task(
            raise_alarm(
                second, alarm_type=AlarmType.DRVA_DOWN, entity=ENTITY, message="second", at=at
            )
        )
        await asyncio.sleep(0.2)  # the second insert waits on the first transaction
        await first.commit()
        second_raised = await late
        await second.commit()
    assert (first_raised, second_raised) == (True, False)
    async with container.platform.sessionmaker() as session:
        await clear_alarm(session, alarm_type=AlarmType.DRVA_DOWN, entity_id=ENTITY[1], at=at)
        await session.commit()
    async with container.platform.sessionmaker() as session:
        alarms = (await session.scalars(select(Alarm).where(Alarm.entity_id == ENTITY[1]))).all()
        raised_events = await session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.entity_id == ENTITY[1], Event.action == "alarm.raised")
        )
    assert [(a.message, a.cleared_at is not None) for a in alarms] == [("first look", True)]
    assert raised_events == 1


async def test_an_alarm_raised_again_after_its_clear_is_a_new_one(appliance: Appliance) -> None:
    container = appliance.container
    for message in ("down", "down again"):
        async with container.platform.sessionmaker() as session:
            at = container.platform.clock.now()
            await raise_alarm(
                session, alarm_type=AlarmType.DRVA_DOWN, entity=ENTITY, message=message, at=at
            )
            await raise_alarm(  # the same condition seen twice in one transaction
                session, alarm_type=AlarmType.DRVA_DOWN, entity=ENTITY, message="dup", at=at
            )
            await clear_alarm(session, alarm_type=AlarmType.DRVA_DOWN, entity_id=ENTITY[1], at=at)
            await session.commit()
    async with container.platform.sessionmaker() as session:
        alarms = (await session.scalars(select(Alarm).where(Alarm.entity_id == ENTITY[1]))).all()
    assert sorted(a.message for a in alarms) == ["down", "down again"]
    assert all(a.cleared_at is not None for a in alarms)
