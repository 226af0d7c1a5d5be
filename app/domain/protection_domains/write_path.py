"""What protection does to the guests' writes, as the statistics report it.

`jetstream-domain.md` §3.7: write-through (the default) acknowledges a write once the
replication log **and** primary storage have it; write-back once the log alone has it (the
iSCSI variant only on an iSCSI log). §3.10: when the log is near full, writes are throttled
(backpressure). So a write-back VM sees the log's latency, a write-through VM the slower of the
two; under backpressure the guests write no faster than the DRVA drains the log, and each
write waits correspondingly longer. Write-back also keeps in the log what primary storage has
not taken yet (`DESTAGE_SECONDS` of the VM's writes).

A DRVA crash (the emulator's model: the product documents the acknowledgement rule, not the
crash). The log sits on shared storage and outlives the DRVA, and the hosts keep logging, so no
acknowledged write is lost while the log survives. What differs is what would go with the log
if it were lost too: in both modes, what is not shipped yet (the object store lacks it: the
RPO); with write-back also what primary storage has not taken, and since the DRVA is what
destages the log, that grows by the write-back VMs' rate for as long as it is down. A
write-through VM's primary storage never lacks an acknowledged write.

The latencies are this emulator's model (a flash log faster than the primary datastore), not
published figures; the order between the modes is the documented one. What the guests write —
the content and the digests — does not change: throttling slows the rate and latency reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

FILTER_MS = 0.05
PRIMARY_MS = 1.0
LOG_MS = {"vmdk": 0.5, "iscsi": 0.35}
DESTAGE_SECONDS = 2.0
WRITE_THROUGH = "write_through"


def write_bytes_per_second(disks: Sequence[Any]) -> float:
    rate = 0.0
    for disk in disks:
        profile = disk.get("write_profile") or {}
        rate += float(profile.get("write_iops", 0.0)) * float(profile.get("write_kb", 4.0)) * 1024
    return rate


def acknowledged_after_ms(mode: str, log_type: str | None) -> float:
    """A write's latency with the log keeping up: the log alone (write-back), or the slower of
    the log and primary storage (write-through)."""
    log = LOG_MS.get(log_type or "vmdk", LOG_MS["vmdk"])
    if mode == WRITE_THROUGH:
        return FILTER_MS + max(log, PRIMARY_MS)
    return FILTER_MS + log


def throttle(incoming: float, outgoing: float, backpressure: bool) -> float:
    """How many times slower the guests write: under backpressure, no faster than the log
    drains."""
    if not backpressure or incoming <= 0:
        return 1.0
    return max(1.0, incoming / max(outgoing, 1.0))


@dataclass(frozen=True)
class WritePath:
    """The domain's VMs as one: their base latency (weighted by how much each writes) and
    how much of the log write-back keeps for primary storage."""

    latency_ms: float
    write_back_bytes_per_second: float

    @classmethod
    def of(cls, vms: Sequence[tuple[str, Sequence[Any]]], log_type: str | None) -> WritePath:
        """`vms`: (protection mode, disks) of each VM."""
        weighted = total = write_back = 0.0
        for mode, disks in vms:
            rate = write_bytes_per_second(disks)
            weighted += rate * acknowledged_after_ms(mode, log_type)
            total += rate
            if mode != WRITE_THROUGH:
                write_back += rate
        latency = weighted / total if total else acknowledged_after_ms(WRITE_THROUGH, log_type)
        return cls(latency_ms=latency, write_back_bytes_per_second=write_back)

    @property
    def write_back_log_bytes(self) -> int:
        """The destage window: what the log holds for primary storage while the DRVA runs."""
        return int(self.write_back_bytes_per_second * DESTAGE_SECONDS)

    def not_on_primary_bytes(self, drva_down_seconds: float) -> int:
        """What write-back VMs were told is written and primary storage lacks: the destage
        window, and everything written since the DRVA (which destages) went down."""
        return self.write_back_log_bytes + int(
            self.write_back_bytes_per_second * max(drva_down_seconds, 0.0)
        )

    def guest(self, incoming: float, outgoing: float, backpressure: bool) -> tuple[float, float]:
        """(guest write rate, latency ms) for a period with these log rates."""
        factor = throttle(incoming, outgoing, backpressure)
        return incoming / factor, self.latency_ms * factor
