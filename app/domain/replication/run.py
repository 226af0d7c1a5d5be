"""One domain as the engine steps it: its rows, its VMs' write generators, its store."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(slots=True)
class StepVm:
    """The columns of a protected VM a step reads and writes, as a plain record: the engine
    loads a domain's VMs every step, and ORM objects for them cost more than the step itself.
    `saved` is what the database holds, so only the VMs a step changed are written back."""

    id: str
    vm_id: str | None
    replica_key: str
    status: str
    origin_epoch: int | None
    stopped_epoch: int | None
    sync_remaining_bytes: int
    protected_at: dt.datetime | None
    first_recovery_point_at: dt.datetime | None
    saved: tuple[Any, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        self.saved = self.changeable()

    def changeable(self) -> tuple[Any, ...]:
        return (
            self.status,
            self.sync_remaining_bytes,
            self.protected_at,
            self.first_recovery_point_at,
        )

    def changes(self) -> dict[str, Any] | None:
        """The columns a step changed since the last save (None if none), marked saved."""
        now = self.changeable()
        if now == self.saved:
            return None
        self.saved = now
        return {
            "id": self.id,
            "status": self.status,
            "sync_remaining_bytes": self.sync_remaining_bytes,
            "protected_at": self.protected_at,
            "first_recovery_point_at": self.first_recovery_point_at,
        }


@dataclass
class ReplicatedVm:
    row: ProtectedVm | StepVm
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
    return disk_generators(vm.vm_id or vm.replica_key, vm.disks, vm.base_image)


def disk_generators(
    seed: str, disks: list[Any], base_image: dict[str, Any] | None
) -> list[DiskGenerator]:
    images = base_image or {}
    return [
        DiskGenerator.from_profile(
            seed,
            int(disk["key"]),
            int(disk["capacity_bytes"]),
            float(disk["write_profile"].get("write_iops", 0.0)),
            float(disk["write_profile"].get("write_kb", 4.0)),
            image=tuple(images[str(disk["key"])]) if str(disk["key"]) in images else None,
        )
        for disk in disks
    ]


class GeneratorCache:
    """Each VM's disk generators, kept between steps and rebuilt only when what they are made
    of (the local VM, the disks' profiles, the recovered image: the raw JSON of the row) changes.
    Generators are immutable, so sharing them between steps is safe."""

    def __init__(self) -> None:
        self._by_domain: dict[str, dict[tuple[str, str | None, str, str | None], Any]] = {}

    def of(
        self, domain_id: str, rows: Sequence[tuple[StepVm, str, str | None]]
    ) -> list[ReplicatedVm]:
        known = self._by_domain.get(domain_id, {})
        kept: dict[tuple[str, str | None, str, str | None], Any] = {}
        vms = []
        for row, disks_json, image_json in rows:
            key = (row.id, row.vm_id, disks_json, image_json)
            disks = known.get(key)
            if disks is None:
                image = json.loads(image_json) if image_json is not None else None
                disks = disk_generators(row.vm_id or row.replica_key, json.loads(disks_json), image)
            kept[key] = disks
            vms.append(ReplicatedVm(row, disks))
        self._by_domain[domain_id] = kept
        return vms

    def keep_only(self, domain_ids: Sequence[str]) -> None:
        for gone in set(self._by_domain) - set(domain_ids):
            del self._by_domain[gone]

    def clear(self) -> None:
        self._by_domain.clear()


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
