"""A background job that runs on the virtual clock until it is stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from app.core.clock import VirtualClock

logger = logging.getLogger(__name__)

# However fast the virtual clock runs, two runs stay at least this far apart in real time.
MINIMUM_REAL_INTERVAL = 0.05


class Periodic:
    def __init__(
        self,
        name: str,
        clock: VirtualClock,
        every: float,
        work: Callable[[], Awaitable[None]],
        minimum_real_interval: float = MINIMUM_REAL_INTERVAL,
    ) -> None:
        self._name = name
        self._clock = clock
        self._every = every
        self._work = work
        self._minimum_real_interval = minimum_real_interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._clock.sleep(self._every)
            await asyncio.sleep(self._minimum_real_interval)
            try:
                await self._work()
            except Exception:
                logger.exception("%s failed", self._name)
