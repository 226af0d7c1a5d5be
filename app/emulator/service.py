"""Emulator controls: reset to the seeded state and drive the virtual clock."""

from __future__ import annotations

import datetime as dt
import time

from app.bootstrap import seed_first_boot
from app.container import Container
from app.core.clock import ClockMode, ClockState
from app.core.errors import ValidationFailed
from app.core.ids import ids
from app.emulator.schemas import ClockUpdate
from app.models import Base

# Users and their sessions survive a reset, so the caller stays logged in.
PRESERVED_TABLES = frozenset({"alembic_version", "app_user", "user_session"})


async def reset(container: Container) -> float:
    started = time.perf_counter()
    await container.replication.stop()
    await container.monitor.stop()
    await container.runner.stop()
    async with container.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in PRESERVED_TABLES:
                await connection.execute(table.delete())
    if container.simulator is not None:
        container.simulator.forget()
    await container.vcenter.reset()
    ids.reseed(container.settings.seed)
    container.faults.clear()
    container.clock.configure(
        mode=ClockMode(container.settings.clock.mode),
        scale=container.settings.clock.scale,
        now=dt.datetime.now(dt.UTC),
    )
    await seed_first_boot(container)
    await container.runner.start()
    container.monitor.start()
    container.replication.start()
    return (time.perf_counter() - started) * 1000


def configure_clock(container: Container, change: ClockUpdate) -> ClockState:
    if change.now is not None and change.now < container.clock.now():
        raise ValidationFailed("the virtual clock only moves forward", error_code="clock_backwards")
    return container.clock.configure(mode=change.mode, scale=change.scale, now=change.now)
