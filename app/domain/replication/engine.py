"""The replication engine: runs every protecting domain forward on the virtual clock.

Each step of a domain, over virtual seconds (t0, t1]:
1. The IO filters capture the epochs that completed into the replication log (write generator
   bytes per epoch; capacity = the domain's share of its log volume). In bitmap mode or while
   stopped they only mark regions dirty.
2. The DRVA ships at its bandwidth (shared by its domains): a pending resync first, then the
   log in order, as segment objects; then initial syncs, one VM after another. Each log segment
   that lands is a recovery point (consistent when every VM of the domain is protected).
3. Log >= 90 % is backpressure. The log filling up, backpressure for `BACKPRESSURE_LIMIT`, or
   the store unreachable for `OUTAGE_LIMIT` puts the domain in bitmap mode. In bitmap mode the
   store is probed every step; when it answers the dirty regions are resynced.
4. Alarms: backpressure or bitmap lasting more than five minutes, RPO above the target.
5. Every `COMPACT_EVERY` the segments older than the PITR window (all but the latest recovery
   point without PITR) are merged into a checkpoint.

A domain's state is committed after every step, so a restarted appliance resumes where it was.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.objectstore.errors import ObjectStoreError, StorageUnreachable
from app.adapters.objectstore.faulty import FaultInjectingStore
from app.adapters.objectstore.port import ObjectStore
from app.core.db import advisory_lock
from app.core.periodic import Periodic
from app.domain.alarms.service import AlarmType, clear_alarm, raise_alarm
from app.domain.appliance.service import remember_clock
from app.domain.drvas.models import Drva, ReplicationLogVolume
from app.domain.drvas.states import DrvaStatus
from app.domain.events import service as events
from app.domain.protection_domains.health import health
from app.domain.protection_domains.models import (
    DomainReplication,
    ProtectedVm,
    ProtectionDomain,
    RecoveryPoint,
    recovery_point_id,
)
from app.domain.protection_domains.modes import DomainMode, can_move
from app.domain.protection_domains.replication_states import ReplicationState, VmStatus, move
from app.domain.replication.generator import DiskGenerator
from app.domain.replication.segments import Segment, compact
from app.domain.sites.identity import site_directory
from app.domain.storage_format.epochs import epoch_at, epoch_start, origin_epoch_at
from app.domain.storage_format.keys import recovery_point_key
from app.domain.storage_format.manifest import (
    read_manifest,
)
from app.domain.storage_format.records import encode_recovery_point, recovery_point
from app.domain.storage_sites.models import StorageSite
from app.domain.storage_sites.service import store_of

if TYPE_CHECKING:
    from app.domain.platform import Platform

logger = logging.getLogger(__name__)

GIB = 1024**3
BACKPRESSURE_THRESHOLD = 0.9
BACKPRESSURE_LIMIT = 600.0
# A short outage is what the log is for; a long one gives up on it even if the log is large.
OUTAGE_LIMIT = 1800.0
ALARM_AFTER = 300.0
COMPACT_EVERY = 3600.0
# How often a DRVA re-reads the manifest to learn whether another site took the domain over.
FENCE_EVERY = 300.0
STEP = 60.0
# Catching up a long gap (an appliance that was down, a big clock advance) in coarser steps.
CATCH_UP_STEP = 600.0
CATCH_UP_AFTER = 1800.0
MINIMUM_STEP = 0.001
SAMPLES_KEPT = 120
PARALLEL_DOMAINS = 4
R = ReplicationState


def _ts(value: dt.datetime) -> float:
    return value.timestamp()


def _at(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


@dataclass
class _Vm:
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


def window_bytes(vms: Sequence[_Vm], start: int, end: int) -> int:
    """Bytes the VMs wrote in epochs [start, end), each from its own origin."""
    total = 0
    for vm in vms:
        span = vm.span(start, end)
        if span is not None:
            total += (span[1] - span[0]) * vm.bytes_per_epoch
    return total


@dataclass
class _Run:
    domain: ProtectionDomain
    repl: DomainReplication
    vms: list[_Vm]
    store: FaultInjectingStore | None
    store_error: str | None
    drva_running: bool
    bandwidth: float


P = ParamSpec("P")
T = TypeVar("T")


def _exclusive(
    method: Callable[Concatenate[ReplicationEngine, str, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[ReplicationEngine, str, P], Coroutine[Any, Any, T]]:
    """A change to one domain's replication, done by one process at a time (several appliance
    processes may share the database)."""

    async def exclusive(
        engine: ReplicationEngine, domain_id: str, /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        async with advisory_lock(engine._platform.engine, f"domain:{domain_id}"):
            return await method(engine, domain_id, *args, **kwargs)

    return exclusive


class ReplicationEngine:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._loop = Periodic(
            "replication-engine",
            platform.clock,
            platform.settings.replication.tick_seconds,
            self.settle,
        )
        # Held while domains are stepped and while tasks change what replicates.
        self.lock = asyncio.Lock()
        self._stores: dict[tuple[str, dt.datetime], ObjectStore] = {}

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        self._stores.clear()

    async def settle(self) -> None:
        """Run every domain up to the clock's present."""
        async with self.lock:
            await self._run_all(self._platform.clock.timestamp())
        await remember_clock(self._platform)

    async def _run_all(self, until: float) -> None:
        async with self._platform.sessionmaker() as session:
            domain_ids = list(await session.scalars(select(DomainReplication.domain_id)))
        # Domains are independent: while one waits on its database or its store, another runs.
        gate = asyncio.Semaphore(PARALLEL_DOMAINS)

        async def run(domain_id: str) -> None:
            async with gate:
                try:
                    await self.run_domain(domain_id, until)
                except Exception:
                    logger.exception("replication step of domain %s failed", domain_id)

        await asyncio.gather(*(run(domain_id) for domain_id in domain_ids))

    async def run_domain(self, domain_id: str, until: float) -> None:
        """Step one domain up to `until`; the caller holds `lock`."""
        async with advisory_lock(self._platform.engine, f"domain:{domain_id}"):
            await self._advance(domain_id, until)

    async def _advance(self, domain_id: str, until: float) -> None:
        async with self._platform.sessionmaker() as session:
            run = await self._load(session, domain_id)
            if run is None:
                return
            # Stored times have microsecond precision: a step shorter than this is no step.
            while (cursor := _ts(run.repl.cursor_at)) < until - MINIMUM_STEP:
                gap = until - cursor
                step = CATCH_UP_STEP if gap > CATCH_UP_AFTER else STEP
                await self._step(session, run, min(until, cursor + step))
                await session.commit()

    # -- loading -------------------------------------------------------------------------

    async def _load(self, session: AsyncSession, domain_id: str) -> _Run | None:
        found = (
            await session.execute(
                select(
                    ProtectionDomain,
                    DomainReplication,
                    StorageSite,
                    Drva.status,
                    ReplicationLogVolume.size_gb,
                )
                .join(DomainReplication, DomainReplication.domain_id == ProtectionDomain.id)
                .outerjoin(StorageSite, StorageSite.id == ProtectionDomain.storage_site_id)
                .outerjoin(Drva, Drva.id == ProtectionDomain.drva_id)
                .outerjoin(
                    ReplicationLogVolume,
                    ReplicationLogVolume.id == ProtectionDomain.replication_log_volume_id,
                )
                .where(ProtectionDomain.id == domain_id)
            )
        ).first()
        if found is None:
            return None
        domain, repl, site, drva_status, volume_gb = found
        if domain.status == "deleting":
            return None
        rows = await session.scalars(
            select(ProtectedVm)
            .where(ProtectedVm.domain_id == domain_id)
            .order_by(ProtectedVm.added_at, ProtectedVm.id)
        )
        vms = [_Vm(row, generators(row)) for row in rows]
        # The log volume is shared by the domains on it, the DRVA's bandwidth by those it ships.
        peers = (
            await session.execute(
                select(ProtectionDomain.replication_log_volume_id, DomainReplication.domain_id)
                .outerjoin(DomainReplication, DomainReplication.domain_id == ProtectionDomain.id)
                .where(
                    (ProtectionDomain.replication_log_volume_id == domain.replication_log_volume_id)
                    | (ProtectionDomain.drva_id == domain.drva_id)
                )
            )
        ).all()
        sharing_volume = sum(volume == domain.replication_log_volume_id for volume, _ in peers)
        sharing_drva = sum(replicating is not None for _, replicating in peers)
        if volume_gb is not None:
            repl.log_capacity_bytes = volume_gb * GIB // max(sharing_volume, 1)
        bandwidth = self._platform.settings.replication.drva_bandwidth_mbps * 1_000_000 / 8
        store, error = None, None
        if site is not None:
            try:
                store = FaultInjectingStore(
                    self._store(site), self._platform.faults, site.id, domain.id
                )
            except Exception as failure:  # a store that cannot even be built is unreachable
                error = f"storage site {site.name} cannot be used: {failure}"
        return _Run(
            domain=domain,
            repl=repl,
            vms=vms,
            store=store,
            store_error=error,
            drva_running=drva_status == DrvaStatus.RUNNING.value,
            bandwidth=bandwidth / max(sharing_drva, 1),
        )

    def _store(self, site: StorageSite) -> ObjectStore:
        key = (site.id, site.created_at)
        store = self._stores.get(key)
        if store is None:
            store = self._stores[key] = store_of(self._platform, site)
        return store

    # -- one step ------------------------------------------------------------------------

    async def _step(self, session: AsyncSession, run: _Run, t1: float) -> None:
        repl = run.repl
        t0 = _ts(repl.cursor_at)
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
            repl.compacted_at = _at(t0)
        try:
            if run.store is not None and repl.state != R.STOPPED:
                run.store.require_reachable()
            if repl.state != R.STOPPED and run.drva_running:
                await self._check_fence(session, run, t1)
            if repl.state == R.BITMAP:
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
                await self._recovery_point(session, run, rp_epoch)
            # Compaction is the DRVA's work too: a crashed DRVA compacts nothing.
            due = _ts(repl.compacted_at) + COMPACT_EVERY <= t1
            if repl.state != R.STOPPED and run.drva_running and due:
                await self._compact(session, run, t1)
        except ObjectStoreError as error:
            failure = error.message
        if failure is None and not run.drva_running and repl.state != R.STOPPED:
            failure = "the domain's DRVA is not running"
        if failure is None and run.store_error is not None:
            failure = run.store_error
        if failure is not None:
            repl.unreachable_since = repl.unreachable_since or _at(t0)
            repl.last_error = failure[:1024]
            if repl.state == R.RESYNCING:
                repl.state = move(repl.state, R.BITMAP)
                repl.resync_epoch = None
                repl.resync_remaining_bytes = 0
        elif shipped > 0 or repl.state == R.REPLICATING:
            repl.unreachable_since = None
            repl.last_error = None
        self._account_log(run)
        self._detect_bitmap(run, t1, seconds, written)
        repl.cursor_at = _at(t1)
        self._record_sample(run, t1, seconds, written, shipped)
        await self._alarms(session, run, t1)

    async def _check_fence(self, session: AsyncSession, run: _Run, t1: float) -> None:
        repl, domain = run.repl, run.domain
        local = self._platform.state.local_site
        if domain.owner_site != local:
            # This site already learnt (reading the manifest for a request) that another site
            # owns the domain: its writes must not go on, least of all into that site's
            # generation, which the domain row may name by now.
            owner_name = domain.site_names.get(domain.owner_site, domain.owner_site)
            self._fence(session, run, t1, f"site {owner_name} owns the domain")
            return
        checked = repl.fence_checked_at
        if checked is not None and t1 - _ts(checked) < FENCE_EVERY:
            return
        if run.store is None:
            return
        manifest = await read_manifest(run.store, domain.container)
        repl.fence_checked_at = _at(t1)
        directory = (
            await site_directory(session, self._platform) if manifest.needs_directory else None
        )
        epoch = manifest.epoch
        owner = manifest.owner(directory)
        if epoch <= domain.epoch and owner == local:
            return
        domain.owner_site = owner
        domain.site_names = {**domain.site_names, **manifest.labels}
        owner_name = domain.site_names.get(owner, owner)
        self._fence(
            session,
            run,
            t1,
            f"the container says site {owner_name} owns the domain at epoch {epoch}",
        )

    def _fence(self, session: AsyncSession, run: _Run, t1: float, reason: str) -> None:
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
        events.record(
            session,
            at=_at(t1),
            actor="system",
            action="protection_domain.fenced",
            message=f"protection domain {domain.name}: {repl.last_error}; replication stopped",
            entity=("protection_domain", domain.id, domain.name),
        )
        logger.warning("domain %s fenced: %s", domain.name, repl.last_error)

    async def _put(self, run: _Run, key: str, data: bytes) -> None:
        if run.store is None:
            raise StorageUnreachable(run.store_error or "the storage site is gone")
        started = time.perf_counter()
        await run.store.put(run.domain.container, key, data)
        run.repl.puts += 1
        run.repl.put_seconds += time.perf_counter() - started

    async def _probe(self, run: _Run) -> None:
        if not run.drva_running:
            raise StorageUnreachable("the domain's DRVA is not running")
        await self._put(run, "probe", b"")

    def _begin_resync(self, run: _Run, end_epoch: int) -> None:
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

    def _spend_resync(self, run: _Run, budget: float) -> tuple[float, bool]:
        repl = run.repl
        spent = min(budget, float(repl.resync_remaining_bytes))
        repl.resync_remaining_bytes = max(0, repl.resync_remaining_bytes - int(spent))
        return spent, repl.resync_remaining_bytes == 0

    async def _finish_resync(self, run: _Run) -> None:
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
                touched = disk.touched(*span)
                segment.add(
                    vm.row.replica_key, disk.key, ((r, s[0], s[1]) for r, s in touched.items())
                )
        await self._put(run, segment.key, segment.encode(run.domain.id))
        repl.segment_seq = segment.seq
        repl.dirty_from = None
        repl.resync_epoch = None
        repl.bitmap_since = None
        repl.state = move(repl.state, R.REPLICATING)

    async def _ship_log(self, run: _Run, budget: float) -> tuple[float, bool]:
        """Ship whole epochs from the head of the log; returns (bytes spent, advanced)."""
        repl = run.repl
        start, end = repl.shipped_until, repl.captured_until
        available = budget + repl.ship_carry_bytes
        low, high = start, end
        while low < high:
            middle = (low + high + 1) // 2
            if window_bytes(run.vms, start, middle) <= available:
                low = middle
            else:
                high = middle - 1
        through = low
        whole = window_bytes(run.vms, start, through)
        if through > start:
            segment = Segment("log", run.domain.epoch, start, through, repl.segment_seq + 1)
            for vm in run.vms:
                span = vm.span(start, through)
                if span is None:
                    continue
                for disk in vm.disks:
                    touched = disk.touched(*span)
                    if touched:
                        segment.add(
                            vm.row.replica_key,
                            disk.key,
                            ((r, s[0], s[1]) for r, s in touched.items()),
                        )
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

    async def _initial_sync(self, run: _Run, budget: float, t1: float) -> float:
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
                row.protected_at = _at(t1)
            row.sync_remaining_bytes = remaining
        return spent

    async def _write_base(self, run: _Run, vm: _Vm) -> None:
        repl = run.repl
        assert vm.row.origin_epoch is not None
        segment = base_segment(run.domain.epoch, repl.segment_seq + 1, [vm])
        await self._put(run, segment.key, segment.encode(run.domain.id))
        repl.segment_seq = segment.seq

    async def _recovery_point(self, session: AsyncSession, run: _Run, epoch: int) -> None:
        repl, domain = run.repl, run.domain
        covered = [vm.row.replica_key for vm in run.vms if vm.row.status in RECOVERABLE_STATUSES]
        if not covered or repl.state != R.REPLICATING:
            return
        latest = repl.last_recovery_point_at
        if latest is not None and epoch <= epoch_at(_ts(latest)):
            return
        at = _at(epoch_start(epoch))
        consistent = len(covered) == len(run.vms)
        record = recovery_point(domain.epoch, epoch, at, consistent, covered)
        await self._put(run, recovery_point_key(domain.epoch, epoch), encode_recovery_point(record))
        session.add(
            RecoveryPoint(
                id=recovery_point_id(domain.id, domain.epoch, epoch),
                domain_id=domain.id,
                generation=domain.epoch,
                epoch=epoch,
                timestamp=at,
                consistent=consistent,
                vm_ids=covered,
            )
        )
        repl.last_recovery_point_at = at
        for vm in run.vms:
            if vm.row.status in RECOVERABLE_STATUSES and vm.row.first_recovery_point_at is None:
                vm.row.first_recovery_point_at = at

    async def _compact(self, session: AsyncSession, run: _Run, t1: float) -> None:
        repl, domain = run.repl, run.domain
        repl.compacted_at = _at(t1)
        if repl.last_recovery_point_at is None or run.store is None or not run.store.reachable:
            return
        # Compaction rewrites history: make sure no other site took the domain over meanwhile,
        # since a recovery there may be reading the points it would merge.
        repl.fence_checked_at = None
        await self._check_fence(session, run, t1)
        if repl.fenced:
            return
        # The newest consistent point survives every compaction: a failover that completes at
        # the recovery site while this runs still finds one (a newer inconsistent one does not
        # replace it).
        latest = await session.scalar(
            select(func.max(RecoveryPoint.epoch)).where(
                RecoveryPoint.domain_id == domain.id,
                RecoveryPoint.generation == domain.epoch,
                RecoveryPoint.consistent.is_(True),
            )
        )
        if latest is None:
            latest = epoch_at(_ts(repl.last_recovery_point_at))
        cutoff = latest
        if domain.pitr_enabled:
            cutoff = min(latest, epoch_at(t1 - domain.pitr_window_days * 86400))
        merged = await compact(run.store, domain.container, domain.id, domain.epoch, cutoff)
        if merged:
            await session.execute(
                delete(RecoveryPoint).where(
                    RecoveryPoint.domain_id == domain.id,
                    (RecoveryPoint.generation < domain.epoch)
                    | ((RecoveryPoint.generation == domain.epoch) & (RecoveryPoint.epoch < cutoff)),
                )
            )

    # -- health --------------------------------------------------------------------------

    def _account_log(self, run: _Run) -> None:
        repl = run.repl
        if repl.state in (R.REPLICATING, R.RESYNCING):
            pending = window_bytes(run.vms, repl.shipped_until, repl.captured_until)
            repl.log_used_bytes = max(0, pending - repl.ship_carry_bytes)
        else:
            repl.log_used_bytes = 0

    def _detect_bitmap(self, run: _Run, t1: float, seconds: float, written: int) -> None:
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
            repl.backpressure_since = _at(t1 - ago)
        elif not pressure:
            repl.backpressure_since = None
        if repl.state != R.REPLICATING:
            return
        full = repl.log_used_bytes >= capacity
        throttled_too_long = (
            repl.backpressure_since is not None
            and t1 - _ts(repl.backpressure_since) >= BACKPRESSURE_LIMIT
        )
        unreachable_too_long = (
            repl.unreachable_since is not None and t1 - _ts(repl.unreachable_since) >= OUTAGE_LIMIT
        )
        if full or throttled_too_long or unreachable_too_long:
            repl.state = move(repl.state, R.BITMAP)
            repl.dirty_from = repl.shipped_until
            repl.ship_carry_bytes = 0
            repl.log_used_bytes = 0
            repl.backpressure_since = None
            repl.bitmap_since = _at(t1)
            reason = (
                "the replication log is full"
                if full
                else "backpressure lasted too long"
                if throttled_too_long
                else "the object store is unreachable"
            )
            logger.warning("domain %s entered bitmap mode: %s", run.domain.name, reason)

    def _record_sample(
        self, run: _Run, t1: float, seconds: float, written: int, shipped: float
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
            "at": _at(t1).isoformat(),
            "seconds": round(seconds, 3),
            "in_bytes": written,
            "out_bytes": int(shipped),
            "log_used_bytes": repl.log_used_bytes,
            "backpressure": repl.backpressure_since is not None,
            "bitmap": in_bitmap,
        }
        repl.samples = [*repl.samples[-(SAMPLES_KEPT - 1) :], sample]

    async def _alarms(self, session: AsyncSession, run: _Run, t1: float) -> None:
        """Raise and clear on transitions only: `raised_alarms` remembers what is raised."""
        repl, domain = run.repl, run.domain
        now = _at(t1)
        entity = ("protection_domain", domain.id, domain.name)
        raised = set(repl.raised_alarms)
        wanted: dict[AlarmType, str | None] = {}
        lasting = {
            AlarmType.BACKPRESSURE: (repl.backpressure_since, "writes have been throttled"),
            AlarmType.BITMAP: (repl.bitmap_since, "changes are tracked in bitmaps"),
        }
        for alarm_type, (since, what) in lasting.items():
            on = since is not None and t1 - _ts(since) > ALARM_AFTER
            reason = f" ({repl.last_error})" if repl.last_error else ""
            wanted[alarm_type] = (
                f"domain {domain.name}: {what} since {since.isoformat()}{reason}"
                if on and since is not None
                else None
            )
        rpo = None if repl.last_recovery_point_at is None else t1 - _ts(repl.last_recovery_point_at)
        wanted[AlarmType.RPO_VIOLATION] = (
            f"domain {domain.name}: RPO {rpo:.0f} s exceeds the target of "
            f"{domain.rpo_target_seconds} s"
            if rpo is not None and rpo > domain.rpo_target_seconds
            else None
        )
        for alarm_type, message in wanted.items():
            if message is not None and alarm_type.value not in raised:
                await raise_alarm(
                    session, alarm_type=alarm_type, entity=entity, message=message, at=now
                )
                raised.add(alarm_type.value)
            elif message is None and alarm_type.value in raised:
                await clear_alarm(session, alarm_type=alarm_type, entity_id=domain.id, at=now)
                raised.discard(alarm_type.value)
        if raised != set(repl.raised_alarms):
            repl.raised_alarms = sorted(raised)
        domain.health = health(repl, domain, t1)

    # -- changes asked by tasks (the caller holds `lock`) --------------------------------

    @_exclusive
    async def begin(self, domain_id: str) -> None:
        """Start (or restart) protection: new VMs begin their initial sync; after a stop the
        changes made meanwhile are resynced."""
        now = self._platform.clock.timestamp()
        await self._advance(domain_id, now)
        async with self._platform.sessionmaker() as session:
            repl = await session.get(DomainReplication, domain_id)
            if repl is None:
                boundary = epoch_at(now)
                session.add(
                    DomainReplication(
                        domain_id=domain_id,
                        state=R.REPLICATING.value,
                        cursor_at=_at(now),
                        captured_until=boundary,
                        shipped_until=boundary,
                        raised_alarms=[],
                        samples=[],
                    )
                )
            elif repl.state == R.STOPPED:
                repl.state = move(repl.state, R.BITMAP)
                repl.bitmap_since = _at(now)
            await session.execute(
                update(ProtectedVm)
                .where(ProtectedVm.domain_id == domain_id, ProtectedVm.origin_epoch.is_(None))
                .values(origin_epoch=origin_epoch_at(now))
            )
            await session.commit()

    @_exclusive
    async def halt(self, domain_id: str) -> None:
        """Stop protection: nothing is captured or shipped; changes are tracked as dirty."""
        now = self._platform.clock.timestamp()
        await self._advance(domain_id, now)
        async with self._platform.sessionmaker() as session:
            repl = await session.get(DomainReplication, domain_id)
            if repl is None or repl.state == R.STOPPED:
                return
            if repl.state == R.REPLICATING:
                repl.dirty_from = repl.shipped_until
            repl.state = move(repl.state, R.STOPPED)
            repl.log_used_bytes = 0
            repl.ship_carry_bytes = 0
            repl.resync_epoch = None
            repl.resync_remaining_bytes = 0
            repl.backpressure_since = None
            repl.bitmap_since = None
            at = _at(now)
            for alarm_type in (AlarmType.BACKPRESSURE, AlarmType.BITMAP):
                await clear_alarm(session, alarm_type=alarm_type, entity_id=domain_id, at=at)
            repl.raised_alarms = [
                a
                for a in repl.raised_alarms
                if a not in {AlarmType.BACKPRESSURE.value, AlarmType.BITMAP.value}
            ]
            await session.commit()

    @_exclusive
    async def attach(self, domain_id: str, rows: Sequence[ProtectedVm]) -> None:
        """Add VMs: while the domain protects, their writes are tracked from now on."""
        now = self._platform.clock.timestamp()
        await self._advance(domain_id, now)
        async with self._platform.sessionmaker() as session:
            repl = await session.get(DomainReplication, domain_id)
            for row in rows:
                if repl is not None and repl.state != R.STOPPED:
                    row.origin_epoch = origin_epoch_at(now)
                session.add(row)
            await session.commit()

    @_exclusive
    async def detach(self, domain_id: str, vm_ids: Sequence[str]) -> None:
        now = self._platform.clock.timestamp()
        await self._advance(domain_id, now)
        async with self._platform.sessionmaker() as session:
            await session.execute(
                delete(ProtectedVm).where(
                    ProtectedVm.domain_id == domain_id, ProtectedVm.vm_id.in_(list(vm_ids))
                )
            )
            await session.commit()

    @_exclusive
    async def quiesce(self, domain_id: str) -> int:
        """The domain's VMs were shut down for a handover: their writes end now. Returns the
        epoch the final recovery point must reach."""
        now = self._platform.clock.timestamp()
        await self._advance(domain_id, now)
        stopped = epoch_at(now)
        async with self._platform.sessionmaker() as session:
            await session.execute(
                update(ProtectedVm)
                .where(ProtectedVm.domain_id == domain_id, ProtectedVm.stopped_epoch.is_(None))
                .values(stopped_epoch=stopped)
            )
            await session.commit()
            found = await session.scalar(
                select(func.max(ProtectedVm.stopped_epoch)).where(
                    ProtectedVm.domain_id == domain_id
                )
            )
        return int(found if found is not None else stopped)

    @_exclusive
    async def adopt(
        self,
        domain_id: str,
        generation: int,
        vms: dict[str, tuple[str, dict[str, Any]]],
        status: VmStatus,
    ) -> int:
        """This site took the domain over at `generation`: `vms` maps each recovered VM's
        replica key to its local VM id and the image its recovery gave it. Replication starts
        afresh from now: a base record of every disk and a first recovery point open the
        generation, so the container is recoverable from here at once. Returns the epoch the
        VMs' writes start at."""
        now = self._platform.clock.timestamp()
        origin = epoch_at(now)
        async with self._platform.sessionmaker() as session:
            domain = await session.get(ProtectionDomain, domain_id)
            if domain is None:
                return origin
            site = await session.get(StorageSite, domain.storage_site_id)
            if site is None:
                raise StorageUnreachable("the domain's storage site is gone")
            store = self._store(site)
            previous = await session.get(DomainReplication, domain_id)
            if previous is not None:
                for raised in previous.raised_alarms:
                    await clear_alarm(
                        session, alarm_type=AlarmType(raised), entity_id=domain_id, at=_at(now)
                    )
                await session.delete(previous)
                await session.flush()
            rows = list(
                await session.scalars(
                    select(ProtectedVm)
                    .where(ProtectedVm.domain_id == domain_id)
                    .order_by(ProtectedVm.added_at, ProtectedVm.id)
                )
            )
            kept: list[_Vm] = []
            for row in rows:
                if row.replica_key not in vms:
                    await session.delete(row)
                    continue
                row.vm_id, row.base_image = vms[row.replica_key]
                row.status = status.value
                row.origin_epoch = origin
                row.stopped_epoch = None
                row.sync_total_bytes = row.sync_remaining_bytes = 0
                row.protected_at = _at(now)
                row.first_recovery_point_at = _at(epoch_start(origin))
                kept.append(_Vm(row, generators(row)))
            # Ownership and generation change with the replication row, in one transaction: a
            # step in between would take the new manifest for another site's.
            domain.epoch = generation
            domain.owner_site = self._platform.state.local_site
            if kept:
                segment = base_segment(generation, 1, kept)
                await store.put(domain.container, segment.key, segment.encode(domain.id))
                at = _at(epoch_start(origin))
                covered = [vm.row.replica_key for vm in kept]
                record = recovery_point(generation, origin, at, True, covered)
                await store.put(
                    domain.container,
                    recovery_point_key(generation, origin),
                    encode_recovery_point(record),
                )
                session.add(
                    RecoveryPoint(
                        id=recovery_point_id(domain.id, generation, origin),
                        domain_id=domain.id,
                        generation=generation,
                        epoch=origin,
                        timestamp=at,
                        consistent=True,
                        vm_ids=covered,
                    )
                )
            session.add(
                DomainReplication(
                    domain_id=domain_id,
                    state=R.REPLICATING.value,
                    cursor_at=_at(now),
                    captured_until=origin,
                    shipped_until=origin,
                    segment_seq=1,
                    last_recovery_point_at=_at(epoch_start(origin)) if kept else None,
                    compacted_at=_at(now),
                    raised_alarms=[],
                    samples=[],
                )
            )
            await session.commit()
        return origin


def base_segment(generation: int, seq: int, vms: Sequence[_Vm]) -> Segment:
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
