"""The domain mode table: the moves recoveries make, and the ones they must not."""

from __future__ import annotations

import pytest

from app.domain.protection_domains.modes import (
    TRANSITIONS,
    DomainMode,
    IllegalModeMove,
    can_move,
    move_mode,
)

M = DomainMode


def test_every_mode_has_a_row_and_is_reachable() -> None:
    assert set(TRANSITIONS) == set(DomainMode)
    reached = {M.IDLE, M.IMPORTED}
    frontier = list(reached)
    while frontier:
        for target in TRANSITIONS[frontier.pop()]:
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(DomainMode)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (M.FAILING_OVER, M.FAILING_OVER),
        (M.PROTECTING, M.FAILING_OVER),
        (M.PROTECTING, M.FAILING_BACK),
        (M.RUNNING_IN_FAILOVER, M.FAILING_OVER),
        (M.FAILBACK_PAUSED, M.PROTECTING),
        (M.IDLE, M.TEST_FAILOVER),
        (M.TEST_FAILOVER, M.FAILING_OVER),
    ],
)
def test_illegal_moves_are_refused(current: DomainMode, target: DomainMode) -> None:
    if current != target:
        with pytest.raises(IllegalModeMove):
            move_mode(current.value, target)
    assert not can_move(current.value, target)


def test_a_recovery_round_trip() -> None:
    path = [
        (M.IMPORTED, M.CONTINUOUS_FAILOVER),
        (M.CONTINUOUS_FAILOVER, M.TEST_FAILOVER),
        (M.TEST_FAILOVER, M.CONTINUOUS_FAILOVER),
        (M.CONTINUOUS_FAILOVER, M.FAILING_OVER),
        (M.FAILING_OVER, M.RUNNING_IN_FAILOVER),
        (M.RUNNING_IN_FAILOVER, M.REPLICATION_DISABLED),
        (M.REPLICATION_DISABLED, M.FAILING_BACK),
        (M.FAILING_BACK, M.FAILBACK_PAUSED),
        (M.FAILBACK_PAUSED, M.FAILING_BACK),
        (M.FAILING_BACK, M.PROTECTING),
    ]
    for current, target in path:
        assert move_mode(current.value, target) == target.value
