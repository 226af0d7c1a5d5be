from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from app.core.clock import ClockMode, VirtualClock

START = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


async def test_manual_clock_stands_still_until_advanced() -> None:
    clock = VirtualClock(ClockMode.MANUAL, start=START)
    await asyncio.sleep(0.02)
    assert clock.now() == START
    clock.advance(90)
    assert clock.now() == START + dt.timedelta(seconds=90)


async def test_sleeper_wakes_when_the_clock_is_advanced_past_its_deadline() -> None:
    clock = VirtualClock(ClockMode.MANUAL, start=START)
    sleeper = asyncio.create_task(clock.sleep(60))
    await asyncio.sleep(0.01)
    clock.advance(30)
    await asyncio.sleep(0.01)
    assert not sleeper.done()
    clock.advance(30)
    await asyncio.wait_for(sleeper, 1)


async def test_scaled_clock_runs_faster_than_the_wall_clock() -> None:
    clock = VirtualClock(ClockMode.SCALED, scale=1000, start=START)
    await asyncio.wait_for(clock.sleep(20), 1)
    assert clock.now() >= START + dt.timedelta(seconds=20)


async def test_switching_a_sleeper_from_manual_to_scaled_wakes_it() -> None:
    clock = VirtualClock(ClockMode.MANUAL, start=START)
    sleeper = asyncio.create_task(clock.sleep(5))
    await asyncio.sleep(0.01)
    clock.configure(mode=ClockMode.SCALED, scale=10000)
    await asyncio.wait_for(sleeper, 1)


def test_clock_refuses_to_go_backwards_or_scale_to_zero() -> None:
    clock = VirtualClock(ClockMode.MANUAL, start=START)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="positive"):
        clock.configure(scale=0)


def test_configure_keeps_virtual_time_continuous() -> None:
    clock = VirtualClock(ClockMode.MANUAL, start=START)
    state = clock.configure(mode=ClockMode.SCALED, scale=2)
    assert state.now >= START
    assert state.now - START < dt.timedelta(seconds=1)
