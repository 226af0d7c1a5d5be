"""One step of a protecting domain: capture, ship, resync, recovery points, compaction,
fencing, bitmap mode, statistics and alarms (see `app.domain.replication.engine`)."""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from app.adapters.objectstore.errors import ObjectStoreError, StorageUnreachable
from app.domain.alarms.service import AlarmType
from app.domain.appliance.subscription import LAPSED
from app.domain.protection_domains.health import health
from app.domain.protection_domains.models import recovery_point_id
from app.domain.protection_domains.modes import DomainMode, can_move
from app.domain.protection_domains.replication_states import ReplicationState, VmStatus, move
from app.domain.replication import repository
from app.domain.replication.run import (
    RECOVERABLE_STATUSES,
    DomainRun,
    ReplicatedVm,
    StepVm,
    at_timestamp,
    base_segment,
    steady_rate,
    timestamp_of,
    window_bytes,
)
from app.domain.replication.segments import Segment, compact
from app.domain.sites.identity import site_directory
from app.domain.storage_format.epochs import epoch_at, epoch_start
from app.domain.storage_format.keys import recovery_point_key
from app.domain.storage_format.manifest import read_manifest
from app.domain.storage_format.records import encode_recovery_point, recovery_point

if TYPE_CHECKING:
    from app.domain.platform import Platform

logger = logging.getLogger(__name__)

BACKPRESSURE_THRESHOLD = 0.9
BACKPRESSURE_LIMIT = 600.0
# A short outage is what the log is for; a long one gives up on it even if the log is large.
OUTAGE_LIMIT = 1800.0
ALARM_AFTER = 300.0
COMPACT_EVERY = 3600.0
# How often a DRVA re-reads the manifest to learn whether another site took the domain over.
FENCE_EVERY = 300.0
SAMPLES_KEPT = 120
R = ReplicationState


def _epochs_within(vms: list[ReplicatedVm], start: int, end: int, available: float) -> int:
    """The last epoch `through` in [start, end] such that the log's epochs [start, through)
    fit in `available` bytes."""
    rate = steady_rate(vms, start)
    if rate is not None:
        if rate == 0:
            return end
        through = min(end, start + int(available // rate))
        # Float division may be one off either way: settle on the exact integer bound.
        while through > start and rate * (through - start) > available:
            through -= 1
        while through < end and rate * (through + 1 - start) <= available:
            through += 1
        return through
    low, high = start, end
    while low < high:
        middle = (low + high + 1) // 2
        if window_bytes(vms, start, middle) <= available:
            low = middle
        else:
            high = middle - 1
    return low


class DomainStep:
    """One step of one domain over virtual seconds (t0, t1] (the engine's docstring says what
    a step does)."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    async def step(self, run: DomainRun, t1: float) -> None:
        repl = run.repl
        t0 = timestamp_of(repl.cursor_at)
        seconds = t1 - t0
        end_epoch = epoch_at(t1)
        written = 0
        if repl.state != R.STOPPED:
            written = window_bytes(run.vms, repl.captured_until, end_epoch)
        repl.captured_until = max(repl.captured_until, end_epoch)
        if run.store is not None:
            run.store.reconnect()
        budget = run.bandwidth * seconds if run.drva_running else 0.0
        shipped = 0.0
        failure: str | None = None
        rp_epoch: int | None = None
        if repl.compacted_at is None:
            repl.compacted_at = at_timestamp(t0)
        lapsed = run.lapsed(t0)
        if lapsed and repl.state in (R.REPLICATING, R.RESYNCING):
            self._enter_bitmap(run, t0, "the subscription lapsed")
        try:
            if run.store is not None and repl.state != R.STOPPED:
                run.store.require_reachable()
            if repl.state != R.STOPPED and run.drva_running:
                await self._check_fence(run, t1)
            if repl.state == R.BITMAP and not lapsed:
                await self._probe(run)
                self._begin_resync(run, end_epoch)
            if repl.state == R.RESYNCING:
                spent, done = self._spend_resync(run, budget)
                budget -= spent
                shipped += spent
                if done:
                    await self._finish_resync(run)
                    rp_epoch = repl.shipped_until
            if repl.state == R.REPLICATING:
                spent, advanced = await self._ship_log(run, budget)
                budget -= spent
                shipped += spent
                if advanced:
                    rp_epoch = repl.shipped_until
            if repl.state in (R.REPLICATING, R.RESYNCING):
                spent = await self._initial_sync(run, budget, t1)
                shipped += spent
            if rp_epoch is not None:
                await self._recovery_point(run, rp_epoch)
            # Compaction is the DRVA's work too: a crashed DRVA compacts nothing.
            due = timestamp_of(repl.compacted_at) + COMPACT_EVERY <= t1
            if repl.state != R.STOPPED and run.drva_running and due:
                await self._compact(run, t1)
        except ObjectStoreError as error:
            failure = error.message
        if failure is None and not run.drva_running and repl.state != R.STOPPED:
            failure = "the domain's DRVA is not running"
        if failure is None and run.store_error is not None:
            failure = run.store_error
        if failure is not None:
            repl.unreachable_since = repl.unreachable_since or at_timestamp(t0)
            repl.last_error = failure[:1024]
            if repl.state == R.RESYNCING:
                repl.state = move(repl.state, R.BITMAP)
                repl.resync_epoch = None
                repl.resync_remaining_bytes = 0
        elif shipped > 0 or repl.state == R.REPLICATING:
            repl.unreachable_since = None
            repl.last_error = None
        if lapsed and repl.state == R.BITMAP and failure is None:
            repl.last_error = LAPSED
        self._account_log(run)
        self._detect_bitmap(run, t1, seconds, written)
        repl.cursor_at = at_timestamp(t1)
        self._record_sample(run, t1, seconds, written, shipped)
        self._alarms(run, t1)

    async def _check_fence(self, run: DomainRun, t1: float) -> None:
        repl, domain = run.repl, run.domain
        local = self._platform.state.local_site
        if domain.owner_site != local:
            # This site already learnt (reading the manifest for a request) that another site
            # owns the domain: its writes must not go on, least of all into that site's
            # generation, which the domain row may name by now.
            owner_name = domain.site_names.get(domain.owner_site, domain.owner_site)
            self._fence(run, t1, f"site {owner_name} owns the domain")
            return
        checked = repl.fence_checked_at
        if checked is not None and t1 - timestamp_of(checked) < FENCE_EVERY:
            return
        if run.store is None:
            return
        manifest = await read_manifest(run.store, domain.container)
        repl.fence_checked_at = at_timestamp(t1)
        directory = None
        if manifest.needs_directory:
            async with self._platform.sessionmaker() as session:
                directory = await site_directory(session, self._platform)
        epoch = manifest.epoch
        owner = manifest.owner(directory)
        if epoch <= domain.epoch and owner == local:
            return
        domain.owner_site = owner
        domain.site_names = {**domain.site_names, **manifest.labels}
        owner_name = domain.site_names.get(owner, owner)
        self._fence(
            run,
            t1,
            f"the container says site {owner_name} owns the domain at epoch {epoch}",
        )

    def _fence(self, run: DomainRun, t1: float, reason: str) -> None:
        repl, domain = run.repl, run.domain
        repl.fenced = True
        repl.state = move(repl.state, R.STOPPED)
        repl.log_used_bytes = repl.ship_carry_bytes = 0
        repl.backpressure_since = repl.bitmap_since = None
        repl.last_error = f"fenced: {reason}"
        domain.replication_enabled = False
        # A recovery this site started meanwhile (a failback) keeps its mode.
        if can_move(domain.mode, DomainMode.REPLICATION_DISABLED):
            domain.mode = DomainMode.REPLICATION_DISABLED.value
        run.writes.events.append(
            {
                "at": at_timestamp(t1),
                "actor": "system",
                "action": "protection_domain.fenced",
                "message": f"protection domain {domain.name}: {repl.last_error}; "
                "replication stopped",
                "entity": ("protection_domain", domain.id, domain.name),
            }
        )
        logger.warning("domain %s fenced: %s", domain.name, repl.last_error)

    async def _put(self, run: DomainRun, key: str, data: bytes) -> None:
        if run.store is None:
            raise StorageUnreachable(run.store_error or "the storage site is gone")
        started = time.perf_counter()
        await run.store.put(run.domain.container, key, data)
        run.repl.puts += 1
        run.repl.put_seconds += time.perf_counter() - started

    async def _probe(self, run: DomainRun) -> None:
        if not run.drva_running:
            raise StorageUnreachable("the domain's DRVA is not running")
        await self._put(run, "probe", b"")

    def _begin_resync(self, run: DomainRun, end_epoch: int) -> None:
        repl = run.repl
        dirty_from = repl.dirty_from if repl.dirty_from is not None else repl.shipped_until
        repl.dirty_from = dirty_from
        repl.resync_epoch = end_epoch
        repl.resync_remaining_bytes = sum(
            min(window_bytes([vm], dirty_from, end_epoch), vm.capacity) for vm in run.vms
        )
        repl.shipped_until = repl.captured_until = end_epoch
        repl.ship_carry_bytes = 0
        repl.state = move(repl.state, R.RESYNCING)

    def _spend_resync(self, run: DomainRun, budget: float) -> tuple[float, bool]:
        repl = run.repl
        spent = min(budget, float(repl.resync_remaining_bytes))
        repl.resync_remaining_bytes = max(0, repl.resync_remaining_bytes - int(spent))
        return spent, repl.resync_remaining_bytes == 0

    async def _finish_resync(self, run: DomainRun) -> None:
        repl = run.repl
        assert repl.dirty_from is not None and repl.resync_epoch is not None
        segment = Segment(
            "resync", run.domain.epoch, repl.dirty_from, repl.resync_epoch, repl.segment_seq + 1
        )
        for vm in run.vms:
            span = vm.span(repl.dirty_from, repl.resync_epoch)
            if span is None:
                continue
            for disk in vm.disks:
                segment.add(vm.row.replica_key, disk.key, disk.records(*span))
        await self._put(run, segment.key, segment.encode(run.domain.id))
        repl.segment_seq = segment.seq
        repl.dirty_from = None
        repl.resync_epoch = None
        repl.bitmap_since = None
        repl.state = move(repl.state, R.REPLICATING)

    async def _ship_log(self, run: DomainRun, budget: float) -> tuple[float, bool]:
        """Ship whole epochs from the head of the log; returns (bytes spent, advanced)."""
        repl = run.repl
        start, end = repl.shipped_until, repl.captured_until
        available = budget + repl.ship_carry_bytes
        through = _epochs_within(run.vms, start, end, available)
        whole = window_bytes(run.vms, start, through)
        if through > start:
            segment = Segment("log", run.domain.epoch, start, through, repl.segment_seq + 1)
            for vm in run.vms:
                span = vm.span(start, through)
                if span is None:
                    continue
                for disk in vm.disks:
                    records = disk.records(*span)
                    if records:
                        segment.add(vm.row.replica_key, disk.key, records)
            await self._put(run, segment.key, segment.encode(run.domain.id))
            repl.segment_seq = segment.seq
            repl.shipped_until = through
        carry_before = repl.ship_carry_bytes
        if through < end:
            next_epoch = window_bytes(run.vms, through, through + 1)
            repl.ship_carry_bytes = int(min(available - whole, max(next_epoch - 1, 0)))
        else:
            repl.ship_carry_bytes = 0
        spent = whole + repl.ship_carry_bytes - carry_before
        return float(max(spent, 0)), through > start

    async def _initial_sync(self, run: DomainRun, budget: float, t1: float) -> float:
        spent = 0.0
        for vm in run.vms:
            row = vm.row
            if row.status != VmStatus.INITIAL_SYNC or row.origin_epoch is None:
                continue
            if budget - spent <= 0:
                break
            part = min(budget - spent, float(row.sync_remaining_bytes))
            spent += part
            remaining = max(0, row.sync_remaining_bytes - int(part))
            if remaining == 0:
                await self._write_base(run, vm)
                row.status = VmStatus.PROTECTED.value
                row.protected_at = at_timestamp(t1)
            row.sync_remaining_bytes = remaining
        return spent

    async def _write_base(self, run: DomainRun, vm: ReplicatedVm) -> None:
        repl = run.repl
        assert vm.row.origin_epoch is not None
        segment = base_segment(run.domain.epoch, repl.segment_seq + 1, [vm])
        await self._put(run, segment.key, segment.encode(run.domain.id))
        repl.segment_seq = segment.seq

    async def _recovery_point(self, run: DomainRun, epoch: int) -> None:
        repl, domain = run.repl, run.domain
        covered = [vm.row.replica_key for vm in run.vms if vm.row.status in RECOVERABLE_STATUSES]
        if not covered or repl.state != R.REPLICATING:
            return
        latest = repl.last_recovery_point_at
        if latest is not None and epoch <= epoch_at(timestamp_of(latest)):
            return
        at = at_timestamp(epoch_start(epoch))
        consistent = len(covered) == len(run.vms)
        record = recovery_point(domain.epoch, epoch, at, consistent, covered)
        await self._put(run, recovery_point_key(domain.epoch, epoch), encode_recovery_point(record))
        run.writes.recovery_points.append(
            {
                "id": recovery_point_id(domain.id, domain.epoch, epoch),
                "domain_id": domain.id,
                "generation": domain.epoch,
                "epoch": epoch,
                "timestamp": at,
                "consistent": consistent,
                "vm_ids": covered,
            }
        )
        repl.last_recovery_point_at = at
        for vm in run.vms:
            row = vm.row
            recoverable = row.status in RECOVERABLE_STATUSES
            if isinstance(row, StepVm) and recoverable and row.awaiting_first_point:
                row.awaiting_first_point = False
                row.first_recovery_point_at = at

    async def _compact(self, run: DomainRun, t1: float) -> None:
        repl, domain = run.repl, run.domain
        repl.compacted_at = at_timestamp(t1)
        if repl.last_recovery_point_at is None or run.store is None or not run.store.reachable:
            return
        # Compaction rewrites history: make sure no other site took the domain over meanwhile,
        # since a recovery there may be reading the points it would merge.
        repl.fence_checked_at = None
        await self._check_fence(run, t1)
        if repl.fenced:
            return
        # The newest consistent point survives every compaction: a failover that completes at
        # the recovery site while this runs still finds one (a newer inconsistent one does not
        # replace it).
        async with self._platform.sessionmaker() as session:
            latest = await repository.newest_consistent_point(session, domain.id, domain.epoch)
        # A point this tick made is not in the database yet: the one before it is kept too.
        if latest is None:
            latest = epoch_at(timestamp_of(repl.last_recovery_point_at))
        cutoff = latest
        if domain.pitr_enabled:
            cutoff = min(latest, epoch_at(t1 - domain.pitr_window_days * 86400))
        merged = await compact(run.store, domain.container, domain.id, domain.epoch, cutoff)
        if merged:
            run.writes.forget_before = (domain.epoch, cutoff)

    # -- health --------------------------------------------------------------------------

    def _account_log(self, run: DomainRun) -> None:
        repl = run.repl
        if repl.state in (R.REPLICATING, R.RESYNCING):
            pending = window_bytes(run.vms, repl.shipped_until, repl.captured_until)
            repl.log_used_bytes = max(0, pending - repl.ship_carry_bytes)
        else:
            repl.log_used_bytes = 0

    def _detect_bitmap(self, run: DomainRun, t1: float, seconds: float, written: int) -> None:
        repl = run.repl
        capacity = max(repl.log_capacity_bytes, 1)
        pressure = repl.state == R.REPLICATING and (
            repl.log_used_bytes >= BACKPRESSURE_THRESHOLD * capacity
        )
        if pressure and repl.backpressure_since is None:
            # The log crossed the threshold during this step: when, at this step's write rate.
            rate = written / seconds if seconds > 0 else 0.0
            over = repl.log_used_bytes - BACKPRESSURE_THRESHOLD * capacity
            ago = min(seconds, over / rate) if rate > 0 else 0.0
            repl.backpressure_since = at_timestamp(t1 - ago)
        elif not pressure:
            repl.backpressure_since = None
        if repl.state != R.REPLICATING:
            return
        full = repl.log_used_bytes >= capacity
        throttled_too_long = (
            repl.backpressure_since is not None
            and t1 - timestamp_of(repl.backpressure_since) >= BACKPRESSURE_LIMIT
        )
        unreachable_too_long = (
            repl.unreachable_since is not None
            and t1 - timestamp_of(repl.unreachable_since) >= OUTAGE_LIMIT
        )
        if full or throttled_too_long or unreachable_too_long:
            reason = (
                "the replication log is full"
                if full
                else "backpressure lasted too long"
                if throttled_too_long
                else "the object store is unreachable"
            )
            self._enter_bitmap(run, t1, reason)

    @staticmethod
    def _enter_bitmap(run: DomainRun, at: float, reason: str) -> None:
        """What was captured and not shipped, and every write from now, is tracked as dirty
        regions; a resync ships them once the cause is gone."""
        repl = run.repl
        if repl.state == R.REPLICATING:
            repl.dirty_from = repl.shipped_until
        repl.state = move(repl.state, R.BITMAP)
        repl.resync_epoch = None
        repl.resync_remaining_bytes = 0
        repl.ship_carry_bytes = 0
        repl.log_used_bytes = 0
        repl.backpressure_since = None
        repl.bitmap_since = repl.bitmap_since or at_timestamp(at)
        logger.warning("domain %s entered bitmap mode: %s", run.domain.name, reason)

    def _record_sample(
        self, run: DomainRun, t1: float, seconds: float, written: int, shipped: float
    ) -> None:
        repl = run.repl
        in_bitmap = repl.state in (R.BITMAP, R.RESYNCING)
        repl.observed_seconds += seconds
        repl.bytes_in += written
        repl.bytes_out += int(shipped)
        if repl.backpressure_since is not None:
            repl.backpressure_seconds += seconds
        if in_bitmap:
            repl.bitmap_seconds += seconds
        sample: dict[str, Any] = {
            "at": at_timestamp(t1).isoformat(),
            "seconds": round(seconds, 3),
            "in_bytes": written,
            "out_bytes": int(shipped),
            "log_used_bytes": repl.log_used_bytes,
            "backpressure": repl.backpressure_since is not None,
            "bitmap": in_bitmap,
            "rpo_seconds": None
            if repl.last_recovery_point_at is None
            else round(t1 - timestamp_of(repl.last_recovery_point_at), 3),
        }
        run.samples = [*run.samples[-(SAMPLES_KEPT - 1) :], json.dumps(sample)]

    def _alarms(self, run: DomainRun, t1: float) -> None:
        """Raise and clear on transitions only: `raised_alarms` remembers what is raised."""
        repl, domain = run.repl, run.domain
        now = at_timestamp(t1)
        raised = set(repl.raised_alarms)
        wanted: dict[AlarmType, str | None] = {}
        lasting = {
            AlarmType.BACKPRESSURE: (repl.backpressure_since, "writes have been throttled"),
            AlarmType.BITMAP: (repl.bitmap_since, "changes are tracked in bitmaps"),
        }
        for alarm_type, (since, what) in lasting.items():
            on = since is not None and t1 - timestamp_of(since) > ALARM_AFTER
            reason = f" ({repl.last_error})" if repl.last_error else ""
            wanted[alarm_type] = (
                f"domain {domain.name}: {what} since {since.isoformat()}{reason}"
                if on and since is not None
                else None
            )
        rpo = (
            None
            if repl.last_recovery_point_at is None
            else t1 - timestamp_of(repl.last_recovery_point_at)
        )
        wanted[AlarmType.RPO_VIOLATION] = (
            f"domain {domain.name}: RPO {rpo:.0f} s exceeds the target of "
            f"{domain.rpo_target_seconds} s"
            if rpo is not None and rpo > domain.rpo_target_seconds
            else None
        )
        for alarm_type, message in wanted.items():
            if message is not None and alarm_type.value not in raised:
                run.writes.alarms.append((alarm_type, message, now))
                raised.add(alarm_type.value)
            elif message is None and alarm_type.value in raised:
                run.writes.alarms.append((alarm_type, None, now))
                raised.discard(alarm_type.value)
        if raised != set(repl.raised_alarms):
            repl.raised_alarms = sorted(raised)
        domain.health = health(repl, domain, t1)
