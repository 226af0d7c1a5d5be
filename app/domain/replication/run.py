"""One domain as the engine steps it: its rows, its VMs' write generators, its store."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from app.adapters.objectstore.faulty import FaultInjectingStore
from app.domain.alarms.service import AlarmType
from app.domain.protection_domains.models import ProtectedVm
from app.domain.protection_domains.replication_states import VmStatus
from app.domain.replication.generator import DiskGenerator
from app.domain.replication.segments import Segment

GIB = 1024**3
# Stored times have microsecond precision: a shorter step is no step.
MINIMUM_STEP = 0.001


def timestamp_of(value: dt.datetime) -> float:
    return value.timestamp()


def at_timestamp(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


class Tracked:
    """A row's columns as plain attributes, remembering what the database holds (`saved`) so
    that only what a step changed is written back. Values are replaced, never changed in place."""

    WRITTEN: ClassVar[tuple[str, ...]]
    saved: tuple[Any, ...]

    def changeable(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.WRITTEN)

    def __post_init__(self) -> None:
        # Made from the rows just read: what they hold is what the database holds.
        self.saved = self.changeable()

    def changes(self) -> dict[str, Any]:
        """The columns changed since the last save, by name (empty if none)."""
        now = self.changeable()
        if now == self.saved:
            return {}
        return {
            name: value
            for name, value, before in zip(self.WRITTEN, now, self.saved, strict=True)
            if value != before
        }


@dataclass(slots=True, eq=False)
class StepVm:
    """The columns of a protected VM a step reads and writes: the engine loads every domain's
    VMs every tick, and ORM objects for them cost more than the step itself. The two times are
    only written (set by the step that protects the VM, or gives it its first point), so they
    are not read."""

    id: str
    vm_id: str | None
    replica_key: str
    status: str
    origin_epoch: int | None
    stopped_epoch: int | None
    sync_remaining_bytes: int
    awaiting_first_point: bool
    protected_at: dt.datetime | None = None
    first_recovery_point_at: dt.datetime | None = None
    saved: tuple[str, int] = ("", 0)

    def __post_init__(self) -> None:
        self.saved = (self.status, self.sync_remaining_bytes)

    def changed(self) -> bool:
        return (
            self.status != self.saved[0]
            or self.sync_remaining_bytes != self.saved[1]
            or self.protected_at is not None
            or self.first_recovery_point_at is not None
        )


@dataclass(slots=True, eq=False)
class StepDomain(Tracked):
    """The columns of a protection domain a step reads; it writes only ownership, mode and
    health."""

    WRITTEN: ClassVar[tuple[str, ...]] = (
        "owner_site",
        "site_names",
        "replication_enabled",
        "mode",
        "health",
    )

    id: str
    name: str
    status: str
    container: str
    epoch: int
    owner_site: str
    site_names: dict[str, Any]
    replication_enabled: bool
    mode: str
    health: str
    rpo_target_seconds: int
    pitr_enabled: bool
    pitr_window_days: int
    storage_site_id: str
    drva_id: str
    replication_log_volume_id: str
    saved: tuple[Any, ...] = ()


@dataclass(slots=True, eq=False)
class StepReplication(Tracked):
    """A domain's replication row without its samples (the engine keeps those in memory, see
    `SampleCache`), every column a step may write."""

    WRITTEN: ClassVar[tuple[str, ...]] = (
        "state",
        "cursor_at",
        "captured_until",
        "shipped_until",
        "ship_carry_bytes",
        "log_used_bytes",
        "log_capacity_bytes",
        "dirty_from",
        "resync_epoch",
        "resync_remaining_bytes",
        "backpressure_since",
        "bitmap_since",
        "unreachable_since",
        "last_error",
        "fenced",
        "fence_checked_at",
        "segment_seq",
        "last_recovery_point_at",
        "compacted_at",
        "observed_seconds",
        "backpressure_seconds",
        "bitmap_seconds",
        "bytes_in",
        "bytes_out",
        "puts",
        "put_seconds",
        "raised_alarms",
    )

    domain_id: str
    state: str
    cursor_at: dt.datetime
    captured_until: int
    shipped_until: int
    ship_carry_bytes: int
    log_used_bytes: int
    log_capacity_bytes: int
    dirty_from: int | None
    resync_epoch: int | None
    resync_remaining_bytes: int
    backpressure_since: dt.datetime | None
    bitmap_since: dt.datetime | None
    unreachable_since: dt.datetime | None
    last_error: str | None
    fenced: bool
    fence_checked_at: dt.datetime | None
    segment_seq: int
    last_recovery_point_at: dt.datetime | None
    compacted_at: dt.datetime | None
    observed_seconds: float
    backpressure_seconds: float
    bitmap_seconds: float
    bytes_in: int
    bytes_out: int
    puts: int
    put_seconds: float
    raised_alarms: list[Any]
    saved: tuple[Any, ...] = ()


DOMAIN_COLUMNS = tuple(f.name for f in fields(StepDomain) if f.name != "saved")
REPLICATION_COLUMNS = tuple(f.name for f in fields(StepReplication) if f.name != "saved")


@dataclass
class ReplicatedVm:
    row: ProtectedVm | StepVm
    disks: list[DiskGenerator]
    bytes_per_epoch: int = field(init=False)
    capacity: int = field(init=False)

    def __post_init__(self) -> None:
        self.bytes_per_epoch = sum(disk.bytes_per_epoch for disk in self.disks)
        self.capacity = sum(disk.capacity_bytes for disk in self.disks)

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
    """Each VM's disk generators, kept between ticks and rebuilt only when what they are made
    of (the local VM, the disks' profiles, the recovered image: the raw JSON of the row) changes.
    Generators are immutable; the `ReplicatedVm` holding them is kept too, and given the tick's
    freshly read row."""

    def __init__(self) -> None:
        self._by_domain: dict[str, dict[tuple[str, str | None, str, str | None], ReplicatedVm]] = {}

    def of(
        self, domain_id: str, rows: Sequence[tuple[StepVm, str, str | None]]
    ) -> list[ReplicatedVm]:
        known = self._by_domain.get(domain_id, {})
        kept: dict[tuple[str, str | None, str, str | None], ReplicatedVm] = {}
        for row, disks_json, image_json in rows:
            key = (row.id, row.vm_id, disks_json, image_json)
            vm = known.get(key)
            if vm is None:
                image = json.loads(image_json) if image_json is not None else None
                seed = row.vm_id or row.replica_key
                vm = ReplicatedVm(row, disk_generators(seed, json.loads(disks_json), image))
            else:
                vm.row = row
            kept[key] = vm
        self._by_domain[domain_id] = kept
        return list(kept.values())

    def keep_only(self, domain_ids: Sequence[str]) -> None:
        for gone in set(self._by_domain) - set(domain_ids):
            del self._by_domain[gone]

    def clear(self) -> None:
        self._by_domain.clear()


RECOVERABLE_STATUSES = frozenset({VmStatus.PROTECTED.value, VmStatus.RECOVERABLE.value})


def window_bytes(vms: Sequence[ReplicatedVm], start: int, end: int) -> int:
    """Bytes the VMs wrote in epochs [start, end), each from its own origin (`span`, inlined:
    this runs for every VM several times a step)."""
    total = 0
    for vm in vms:
        origin = vm.row.origin_epoch
        if origin is None:
            continue
        stopped = vm.row.stopped_epoch
        low = start if start > origin else origin
        high = end if stopped is None or end < stopped else stopped
        if high > low:
            total += (high - low) * vm.bytes_per_epoch
    return total


def steady_rate(vms: Sequence[ReplicatedVm], start: int) -> int | None:
    """Bytes per epoch from `start` on when every VM writes through it (tracked by then, not
    stopped): the log's size is then linear in its epochs. None otherwise."""
    rate = 0
    for vm in vms:
        origin = vm.row.origin_epoch
        if origin is None:
            continue
        if origin > start or vm.row.stopped_epoch is not None:
            return None
        rate += vm.bytes_per_epoch
    return rate


@dataclass
class StepWrites:
    """What a domain's steps change besides its own rows; written with them, in the tick's one
    transaction."""

    recovery_points: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    # (alarm type, message): raised with the message, or cleared when it is None.
    alarms: list[tuple[AlarmType, str | None, dt.datetime]] = field(default_factory=list)
    # (generation, epoch): the index rows of points compacted away, before that epoch.
    forget_before: tuple[int, int] | None = None


@dataclass
class DomainRun:
    domain: StepDomain
    repl: StepReplication
    vms: list[ReplicatedVm]
    # The latest statistics samples, each as its JSON text, oldest first.
    samples: list[str]
    store: FaultInjectingStore | None
    store_error: str | None
    drva_running: bool
    bandwidth: float
    # From this moment the subscription has lapsed: new writes are kept in bitmaps only.
    lapses_at: float | None = None
    writes: StepWrites = field(default_factory=StepWrites)

    def lapsed(self, t0: float) -> bool:
        return self.lapses_at is not None and t0 >= self.lapses_at - MINIMUM_STEP

    def next_stop(self, cursor: float, target: float) -> float:
        """`target`, or the lapse when it falls inside the step: a step is wholly before or
        wholly after it."""
        if self.lapses_at is not None and cursor + MINIMUM_STEP < self.lapses_at < target:
            return self.lapses_at
        return target


class SampleCache:
    """Each domain's statistics samples as the engine last wrote them, with the cursor they were
    written at. A row whose cursor moved otherwise (another process stepped the domain) or that
    was made anew is read again; a step only appends, so nothing else is read per step."""

    def __init__(self) -> None:
        self._by_domain: dict[str, tuple[dt.datetime, list[str]]] = {}

    def get(self, domain_id: str, cursor_at: dt.datetime) -> list[str] | None:
        found = self._by_domain.get(domain_id)
        if found is None or found[0] != cursor_at:
            return None
        return list(found[1])

    def put(self, domain_id: str, cursor_at: dt.datetime, samples: list[str]) -> None:
        self._by_domain[domain_id] = (cursor_at, samples)

    def forget(self, domain_id: str) -> None:
        self._by_domain.pop(domain_id, None)

    def keep_only(self, domain_ids: Sequence[str]) -> None:
        for gone in set(self._by_domain) - set(domain_ids):
            del self._by_domain[gone]

    def clear(self) -> None:
        self._by_domain.clear()


def encoded_samples(samples: Sequence[Any]) -> list[str]:
    return [json.dumps(sample) for sample in samples]


def samples_text(samples: Sequence[str]) -> str:
    return "[" + ",".join(samples) + "]"


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
