"""The virtual clock every duration in the appliance reads.

Modes: `realtime` (virtual time runs with the wall clock), `scaled` (it runs `scale` times
faster) and `manual` (it stands still until advanced). Sleepers wake as soon as the virtual
deadline is reached, including when the clock is advanced or its mode changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from dataclasses import dataclass
from enum import StrEnum


class ClockMode(StrEnum):
    REALTIME = "realtime"
    SCALED = "scaled"
    MANUAL = "manual"


# The calendar the virtual clock keeps to: every date the appliance computes (a PITR window,
# a 24 h idempotency window, a subscription's grace) stays representable from here.
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


_LATEST_TIMESTAMP = LATEST.timestamp()


def in_range(moment: dt.datetime) -> bool:
    return EARLIEST <= moment <= LATEST


@dataclass(frozen=True)
class ClockState:
    mode: ClockMode
    scale: float
    now: dt.datetime


class VirtualClock:
    def __init__(
        self,
        mode: ClockMode = ClockMode.REALTIME,
        scale: float = 1.0,
        start: dt.datetime | None = None,
    ) -> None:
        self._mode = mode
        self._scale = scale
        self._virtual_anchor = (start or dt.datetime.now(dt.UTC)).timestamp()
        self._real_anchor = time.monotonic()
        self._changed = asyncio.Event()

    @property
    def mode(self) -> ClockMode:
        return self._mode

    @property
    def rate(self) -> float:
        if self._mode is ClockMode.MANUAL:
            return 0.0
        if self._mode is ClockMode.SCALED:
            return self._scale
        return 1.0

    def timestamp(self) -> float:
        # A scaled clock left running stops at the end of its calendar rather than leave it.
        moved = self._virtual_anchor + (time.monotonic() - self._real_anchor) * self.rate
        return min(moved, _LATEST_TIMESTAMP)

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.timestamp(), dt.UTC)

    def state(self) -> ClockState:
        return ClockState(mode=self._mode, scale=self._scale, now=self.now())

    def configure(
        self,
        *,
        mode: ClockMode | None = None,
        scale: float | None = None,
        now: dt.datetime | None = None,
    ) -> ClockState:
        if scale is not None and scale <= 0:
            raise ValueError("scale must be positive")
        anchor = now.timestamp() if now is not None else self.timestamp()
        if mode is not None:
            self._mode = mode
        if scale is not None:
            self._scale = scale
        self._reanchor(anchor)
        return self.state()

    def advance(self, seconds: float) -> ClockState:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._reanchor(self.timestamp() + seconds)
        return self.state()

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self.timestamp() + max(seconds, 0.0))

    async def sleep_until(self, deadline: float) -> None:
        while True:
            remaining = deadline - self.timestamp()
            if remaining <= 0:
                return
            changed = self._changed
            rate = self.rate
            timeout = remaining / rate if rate > 0 else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout)

    def _reanchor(self, virtual_timestamp: float) -> None:
        self._virtual_anchor = virtual_timestamp
        self._real_anchor = time.monotonic()
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
