"""One process at a time runs the clock-driven work (replication steps, DRVA heartbeats,
continuous rehydration) among those sharing a database: the holder of the `scheduler` lease.
It renews the lease every third of its length (wall clock); when it stops renewing (it died,
or lost the database), another process acquires the lease and starts the work."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from app.core.db import SessionMaker
from app.tasks.models import Lease

logger = logging.getLogger(__name__)
SCHEDULER = "scheduler"


class Leadership:
    def __init__(
        self,
        sessionmaker: SessionMaker,
        node: str,
        lease_seconds: float,
        on_gain: Callable[[], None],
        on_loss: Callable[[], Awaitable[None]],
    ) -> None:
        self._sessionmaker = sessionmaker
        self._node = node
        self._lease = dt.timedelta(seconds=lease_seconds)
        self._on_gain = on_gain
        self._on_loss = on_loss
        self._task: asyncio.Task[None] | None = None
        self.is_leader = False

    async def start(self) -> None:
        """The first attempt happens before this returns: a lone process leads at once."""
        await self._attempt()
        self._task = asyncio.create_task(self._loop(), name="leadership")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.is_leader:
            self.is_leader = False
            await self._on_loss()
            await self._release()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            try:
                await self._attempt()
            except Exception:
                logger.exception("renewing the scheduler lease failed")
                if self.is_leader:
                    # Without the database the lease cannot be trusted: step down.
                    self.is_leader = False
                    await self._on_loss()

    async def _attempt(self) -> None:
        now = dt.datetime.now(dt.UTC)
        async with self._sessionmaker() as session:
            renewed = await session.execute(
                update(Lease)
                .where(
                    Lease.name == SCHEDULER,
                    (Lease.holder == self._node) | (Lease.until < now),
                )
                .values(holder=self._node, until=now + self._lease)
            )
            held = bool(getattr(renewed, "rowcount", 0))
            if not held:
                try:
                    await session.execute(
                        insert(Lease).values(
                            name=SCHEDULER, holder=self._node, until=now + self._lease
                        )
                    )
                    held = True
                except IntegrityError:
                    await session.rollback()
            await session.commit()
        if held and not self.is_leader:
            self.is_leader = True
            logger.info("%s leads the clock-driven work", self._node)
            self._on_gain()
        elif not held and self.is_leader:
            self.is_leader = False
            logger.warning("%s lost the scheduler lease", self._node)
            await self._on_loss()

    async def _release(self) -> None:
        with contextlib.suppress(Exception):
            async with self._sessionmaker() as session:
                await session.execute(
                    update(Lease)
                    .where(Lease.name == SCHEDULER, Lease.holder == self._node)
                    .values(until=dt.datetime.now(dt.UTC))
                )
                await session.commit()
