"""DRVA and replication-log-volume states, and the moves between them."""

from __future__ import annotations

from enum import StrEnum


class DrvaStatus(StrEnum):
    DEPLOYING = "deploying"
    RUNNING = "running"
    DEGRADED = "degraded"
    STOPPED = "stopped"
    FAILED = "failed"
    DELETING = "deleting"


D = DrvaStatus
# Restart and redeploy move a DRVA back to `deploying` until it answers again.
TRANSITIONS: dict[DrvaStatus, frozenset[DrvaStatus]] = {
    D.DEPLOYING: frozenset({D.RUNNING, D.FAILED}),
    D.RUNNING: frozenset({D.DEGRADED, D.STOPPED, D.FAILED, D.DELETING, D.DEPLOYING}),
    D.DEGRADED: frozenset({D.RUNNING, D.STOPPED, D.FAILED, D.DELETING, D.DEPLOYING}),
    D.STOPPED: frozenset({D.RUNNING, D.FAILED, D.DELETING, D.DEPLOYING}),
    D.FAILED: frozenset({D.RUNNING, D.DELETING, D.DEPLOYING}),
    D.DELETING: frozenset(),
}


def sources_for(target: DrvaStatus) -> list[str]:
    return [source.value for source, targets in TRANSITIONS.items() if target in targets]


class VolumeStatus(StrEnum):
    CREATING = "creating"
    READY = "ready"
    DELETING = "deleting"
