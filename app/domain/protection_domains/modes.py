"""A domain's mode (what the site does with it) and the moves between modes.

Modes of a domain this site owns: `idle` → `protecting` ⇄ `replication_disabled`; after a
failover the recovery site owns it and runs it `running_in_failover`. A domain another site owns
is `imported` here (or `replication_disabled` once this site was fenced); from there a recovery
moves it: `failing_over` / `continuous_failover` / `test_failover` at a recovery site,
`failing_back` / `continuous_failback` / `failback_paused` at its primary site.
"""

from __future__ import annotations

from enum import StrEnum


class DomainMode(StrEnum):
    IDLE = "idle"
    PROTECTING = "protecting"
    REPLICATION_DISABLED = "replication_disabled"
    IMPORTED = "imported"
    CONTINUOUS_FAILOVER = "continuous_failover"
    RUNNING_IN_FAILOVER = "running_in_failover"
    TEST_FAILOVER = "test_failover"
    FAILING_OVER = "failing_over"
    FAILING_BACK = "failing_back"
    CONTINUOUS_FAILBACK = "continuous_failback"
    FAILBACK_PAUSED = "failback_paused"


M = DomainMode
TRANSITIONS: dict[DomainMode, frozenset[DomainMode]] = {
    M.IDLE: frozenset({M.PROTECTING}),
    M.PROTECTING: frozenset({M.REPLICATION_DISABLED}),
    M.REPLICATION_DISABLED: frozenset(
        {
            M.PROTECTING,
            M.RUNNING_IN_FAILOVER,
            M.FAILING_OVER,
            M.CONTINUOUS_FAILOVER,
            M.TEST_FAILOVER,
            M.FAILING_BACK,
            M.CONTINUOUS_FAILBACK,
        }
    ),
    M.IMPORTED: frozenset(
        {
            M.FAILING_OVER,
            M.CONTINUOUS_FAILOVER,
            M.TEST_FAILOVER,
            M.FAILING_BACK,
            M.CONTINUOUS_FAILBACK,
        }
    ),
    M.CONTINUOUS_FAILOVER: frozenset({M.FAILING_OVER, M.TEST_FAILOVER, M.IMPORTED}),
    M.TEST_FAILOVER: frozenset(
        {M.IMPORTED, M.CONTINUOUS_FAILOVER, M.CONTINUOUS_FAILBACK, M.REPLICATION_DISABLED}
    ),
    # A restore ends `protecting`: this site became the primary.
    M.FAILING_OVER: frozenset(
        {
            M.RUNNING_IN_FAILOVER,
            M.PROTECTING,
            M.IMPORTED,
            M.REPLICATION_DISABLED,
            M.CONTINUOUS_FAILOVER,
        }
    ),
    M.RUNNING_IN_FAILOVER: frozenset({M.REPLICATION_DISABLED}),
    M.FAILING_BACK: frozenset(
        {
            M.PROTECTING,
            M.FAILBACK_PAUSED,
            M.REPLICATION_DISABLED,
            M.IMPORTED,
            M.CONTINUOUS_FAILBACK,
        }
    ),
    M.FAILBACK_PAUSED: frozenset({M.FAILING_BACK, M.REPLICATION_DISABLED, M.IMPORTED}),
    M.CONTINUOUS_FAILBACK: frozenset(
        {M.FAILING_BACK, M.TEST_FAILOVER, M.REPLICATION_DISABLED, M.IMPORTED}
    ),
}


class IllegalModeMove(RuntimeError):
    pass


def can_move(current: str, target: DomainMode) -> bool:
    return target in TRANSITIONS[DomainMode(current)]


def move_mode(current: str, target: DomainMode) -> str:
    if current == target.value:
        return current
    if not can_move(current, target):
        raise IllegalModeMove(f"a domain in mode {current} cannot go to {target}")
    return target.value
