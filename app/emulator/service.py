"""Emulator controls: reset to the seeded state and drive the virtual clock."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

from sqlalchemy import select

from app.adapters.vcenter.errors import VCenterError
from app.core.clock import EARLIEST, LATEST, ClockMode, ClockState, in_range
from app.core.errors import ValidationFailed
from app.core.ids import start_generation
from app.domain.bootstrap import seed_first_boot
from app.domain.drvas.models import Drva
from app.domain.drvas.monitor import DrvaMonitor
from app.domain.drvas.states import DrvaStatus
from app.domain.inventory.models import Cluster
from app.domain.platform import Platform
from app.domain.vcenters.models import VCenter
from app.domain.vcenters.service import endpoint_of
from app.emulator.schemas import ClockUpdate
from app.models import Base

logger = logging.getLogger(__name__)

# Users and their sessions survive a reset, so the caller stays logged in; the id generation
# survives so that seeded ids after the reset never repeat one a preserved row holds.
PRESERVED_TABLES = frozenset({"alembic_version", "app_user", "user_session", "id_generation"})


async def reset(platform: Platform) -> float:
    started = time.perf_counter()
    await platform.lifecycle.pause_background()
    await _empty_tables(platform)
    if platform.simulator is not None:
        platform.simulator.forget()
    await platform.vcenter.reset()
    platform.faults.clear()
    platform.clock.configure(
        mode=ClockMode(platform.settings.clock.mode),
        scale=platform.settings.clock.scale,
        now=dt.datetime.now(dt.UTC),
    )
    async with platform.sessionmaker() as session:
        await start_generation(session, platform.settings.seed)
    await seed_first_boot(platform)
    await platform.lifecycle.resume_background()
    return (time.perf_counter() - started) * 1000


async def _empty_tables(platform: Platform) -> None:
    async with platform.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # With no foreign key to check, SQLite empties a table at once instead of row by
            # row (10,000 protected VMs: about 45 ms less). The pragma only takes outside a
            # transaction, and the pool's next user must find the keys enforced again.
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()
        try:
            async with connection.begin():
                for table in reversed(Base.metadata.sorted_tables):
                    if table.name not in PRESERVED_TABLES:
                        await connection.execute(table.delete())
        finally:
            if sqlite:
                await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                await connection.commit()


HOST_FAULTS = frozenset({"host_unreachable", "cim_stopped"})


async def apply_host_faults(platform: Platform) -> dict[str, int]:
    """Hosts named by `host_unreachable` rules stop responding and those named by `cim_stopped`
    rules run without CIM; the others respond and run CIM again. Returns how many hosts each
    kind hits."""
    unreachable = {rule.target for rule in platform.faults.unreachable_hosts()}
    cim_stopped = {rule.target for rule in platform.faults.cim_stopped_hosts()}
    if platform.simulator is None:
        if unreachable or cim_stopped:
            raise ValidationFailed("host faults need the simulated vCenter backend")
        return dict.fromkeys(HOST_FAULTS, 0)
    return {
        "host_unreachable": await platform.simulator.set_unreachable(unreachable),
        "cim_stopped": await platform.simulator.set_cim_stopped(cim_stopped),
    }


def configure_clock(platform: Platform, change: ClockUpdate) -> ClockState:
    if change.now is not None and change.now < platform.clock.now():
        raise ValidationFailed("the virtual clock only moves forward", error_code="clock_backwards")
    if change.now is not None:
        _refuse_out_of_range(change.now)
    return platform.clock.configure(mode=change.mode, scale=change.scale, now=change.now)


def advance_clock(platform: Platform, seconds: float) -> ClockState:
    _refuse_out_of_range(platform.clock.now() + dt.timedelta(seconds=seconds))
    return platform.clock.advance(seconds)


def _refuse_out_of_range(moment: dt.datetime) -> None:
    if not in_range(moment):
        raise ValidationFailed(
            f"the virtual clock keeps between {EARLIEST.date()} and {LATEST.date()}; "
            f"{moment.isoformat()} is outside",
            error_code="clock_out_of_range",
        )


async def crash_drvas(platform: Platform, target: str) -> list[str]:
    """`drva_crash`: the DRVA VMs named by `target` (an id, or `*`) go down. Powering a VM off
    takes virtual time, so it happens in the background and the answer names the DRVAs hit; the
    heartbeat then reports them down, and their domains stop shipping until a restart."""
    async with platform.sessionmaker() as session:
        query = (
            select(Drva, VCenter)
            .join(Cluster, Cluster.id == Drva.cluster_id)
            .join(VCenter, VCenter.id == Cluster.vcenter_id)
        )
        if target != "*":
            query = query.where(Drva.id == target)
        found = [
            (drva, vcenter)
            for drva, vcenter in (await session.execute(query)).all()
            if drva.vm_moref and drva.status == DrvaStatus.RUNNING.value
        ]
    if not found:
        raise ValidationFailed(f"no running DRVA matches {target!r}", error_code="no_such_drva")

    async def crash() -> None:
        for drva, vcenter in found:
            assert drva.vm_moref is not None
            try:
                vc = await platform.vcenter.connect(endpoint_of(platform.secrets, vcenter))
                try:
                    await vc.power_off_vm(drva.vm_moref)
                finally:
                    await vc.logout()
            except VCenterError:
                logger.exception("crashing DRVA %s failed", drva.name)
        await platform.worker(DrvaMonitor).check()

    platform.faults.track(asyncio.create_task(crash(), name="drva-crash"))
    return [drva.id for drva, _ in found]
