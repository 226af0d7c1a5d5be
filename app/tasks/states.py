"""Task states and the transitions between them."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class TaskStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.QUEUED: frozenset(
        {TaskStatus.RUNNING, TaskStatus.CANCELLING, TaskStatus.CANCELLED, TaskStatus.FAILED}
    ),
    TaskStatus.RUNNING: frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLING}),
    TaskStatus.CANCELLING: frozenset(
        {TaskStatus.CANCELLED, TaskStatus.FAILED, TaskStatus.SUCCEEDED}
    ),
    TaskStatus.SUCCEEDED: frozenset(),
    TaskStatus.FAILED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}

ACTIVE = frozenset({TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.CANCELLING})
TERMINAL = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED})


def allowed_sources(target: TaskStatus, sources: Sequence[TaskStatus]) -> list[str]:
    """The sources a guarded update may move from; asking for an illegal move is a bug."""
    illegal = [source for source in sources if target not in TRANSITIONS[source]]
    if illegal:
        raise ValueError(f"illegal task transition {illegal} -> {target}")
    return [source.value for source in sources]
