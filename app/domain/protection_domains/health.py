"""A domain's health as the UI shows it, from its replication state and its RPO."""

from __future__ import annotations

from app.domain.protection_domains.models import DomainReplication, ProtectionDomain
from app.domain.protection_domains.replication_states import ReplicationState


def health(repl: DomainReplication | None, domain: ProtectionDomain, now: float) -> str:
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
