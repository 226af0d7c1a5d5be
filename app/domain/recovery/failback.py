"""Failback: a failover back to the domain's primary site, from the recovery site that owns it
now; the current owner hands the domain over first (planned), as in a planned failover."""

from __future__ import annotations

from app.domain.recovery.failover import FAILOVER, undo_recovery
from app.tasks.registry import TaskDefinition

FAILBACK = TaskDefinition(
    type="failback",
    steps=FAILOVER.steps,
    compensate=undo_recovery,
)
