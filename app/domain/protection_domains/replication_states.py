"""The replication state of a protection domain, and the moves between them.

- `replicating`: the IO filters capture writes into the replication log; the DRVA ships it.
- `bitmap`: the log is abandoned; the filters only mark dirty regions (log full, backpressure
  too long, or the object store unreachable too long). The DRVA probes the store.
- `resyncing`: the store answers again; the dirty regions are copied, then replication resumes.
- `stopped`: "Replication Enabled: No"; writes are tracked as dirty regions until it restarts.
"""

from __future__ import annotations

from enum import StrEnum


class ReplicationState(StrEnum):
    REPLICATING = "replicating"
    BITMAP = "bitmap"
    RESYNCING = "resyncing"
    STOPPED = "stopped"


R = ReplicationState
TRANSITIONS: dict[ReplicationState, frozenset[ReplicationState]] = {
    R.REPLICATING: frozenset({R.BITMAP, R.STOPPED}),
    R.BITMAP: frozenset({R.RESYNCING, R.STOPPED}),
    R.RESYNCING: frozenset({R.REPLICATING, R.BITMAP, R.STOPPED}),
    R.STOPPED: frozenset({R.REPLICATING, R.BITMAP}),
}


class IllegalReplicationMove(RuntimeError):
    pass


def move(current: str, target: ReplicationState) -> str:
    if target not in TRANSITIONS[ReplicationState(current)]:
        raise IllegalReplicationMove(f"replication cannot go from {current} to {target}")
    return target.value


class VmStatus(StrEnum):
    INITIAL_SYNC = "initial_sync"
    PROTECTED = "protected"
    RECOVERABLE = "recoverable"
    ERROR = "error"
