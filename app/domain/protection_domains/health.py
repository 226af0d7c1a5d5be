"""A domain's health as the UI shows it, from its replication state and its RPO."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from app.domain.protection_domains.replication_states import ReplicationState


class ReplicationHealth(Protocol):
    """What health reads of a replication row (the ORM row, or the engine's plain record)."""

    @property
    def fenced(self) -> bool: ...
    @property
    def state(self) -> str: ...
    @property
    def backpressure_since(self) -> dt.datetime | None: ...
    @property
    def last_recovery_point_at(self) -> dt.datetime | None: ...


class DomainHealth(Protocol):
    @property
    def rpo_target_seconds(self) -> int: ...


def health(repl: ReplicationHealth | None, domain: DomainHealth, now: float) -> str:
    if repl is None:
        return "ok"
    if repl.fenced:
        return "error"
    if repl.state in (ReplicationState.BITMAP, ReplicationState.RESYNCING):
        return "bitmap"
    if repl.backpressure_since is not None:
        return "backpressure"
    if (
        repl.last_recovery_point_at is not None
        and now - repl.last_recovery_point_at.timestamp() > domain.rpo_target_seconds
    ):
        return "rpo_violation"
    return "ok"
