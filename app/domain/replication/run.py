"""One domain as the engine steps it: its rows, its VMs' write generators, its store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from app.adapters.objectstore.faulty import FaultInjectingStore
from app.domain.protection_domains.models import (
    DomainReplication,
    ProtectedVm,
    ProtectionDomain,
)
from app.domain.protection_domains.replication_states import VmStatus
from app.domain.replication.generator import DiskGenerator
from app.domain.replication.segments import Segment

GIB = 1024**3


def timestamp_of(value: dt.datetime) -> float:
    return value.timestamp()


def at_timestamp(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


@dataclass
class ReplicatedVm:
    row: ProtectedVm
    disks: list[DiskGenerator]

    @property
    def bytes_per_epoch(self) -> int:
        return sum(disk.bytes_per_epoch for disk in self.disks)

    @property
    def capacity(self) -> int:
        return sum(disk.capacity_bytes for disk in self.disks)

    def span(self, start: int, end: int) -> tuple[int, int] | None:
        """The epochs of [start, end) in which the VM wrote: from its origin, until it was
        shut down for a handover."""
        origin = self.row.origin_epoch
        if origin is None:
            return None
        low = max(start, origin)
        high = end if self.row.stopped_epoch is None else min(end, self.row.stopped_epoch)
        return (low, high) if high > low else None


def generators(vm: ProtectedVm) -> list[DiskGenerator]:
    """The VM's disks as they are written here: seeded by the local VM, so a recovered VM writes
    its own data on top of the image its recovery gave it."""
    images = vm.base_image or {}
    return [
        DiskGenerator.from_profile(
            vm.vm_id or vm.replica_key,
            int(disk["key"]),
            int(disk["capacity_bytes"]),
            float(disk["write_profile"].get("write_iops", 0.0)),
            float(disk["write_profile"].get("write_kb", 4.0)),
            image=tuple(images[str(disk["key"])]) if str(disk["key"]) in images else None,
        )
        for disk in vm.disks
    ]


RECOVERABLE_STATUSES = frozenset({VmStatus.PROTECTED.value, VmStatus.RECOVERABLE.value})


def window_bytes(vms: Sequence[ReplicatedVm], start: int, end: int) -> int:
    """Bytes the VMs wrote in epochs [start, end), each from its own origin."""
    total = 0
    for vm in vms:
        span = vm.span(start, end)
        if span is not None:
            total += (span[1] - span[0]) * vm.bytes_per_epoch
    return total


@dataclass
class DomainRun:
    domain: ProtectionDomain
    repl: DomainReplication
    vms: list[ReplicatedVm]
    store: FaultInjectingStore | None
    store_error: str | None
    drva_running: bool
    bandwidth: float


def base_segment(generation: int, seq: int, vms: Sequence[ReplicatedVm]) -> Segment:
    """Every region of the VMs' disks as they were when their writes started being tracked."""
    assert all(vm.row.origin_epoch is not None for vm in vms)
    origin = min(vm.row.origin_epoch or 0 for vm in vms)
    segment = Segment("base", generation, origin, origin, seq)
    for vm in vms:
        for disk in vm.disks:
            segment.add(
                vm.row.replica_key,
                disk.key,
                ((r, s[0], s[1]) for r, s in sorted(disk.base().items())),
            )
    return segment
