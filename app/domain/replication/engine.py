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

A tick reads every domain it steps in one transaction (plain records, no ORM object; the
statistics samples stay in memory as JSON text) and writes what the steps changed in one
transaction, so a restarted appliance resumes where the last tick left it. A domain whose step
fails is left as it was; its neighbours are written (one by one if the batch is refused).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.objectstore.errors import StorageUnreachable
from app.adapters.objectstore.faulty import FaultInjectingStore
from app.adapters.objectstore.port import ObjectStore
from app.core.db import advisory_lock
from app.core.periodic import Periodic
from app.domain.alarms.service import AlarmType, clear_alarm, raise_alarm
from app.domain.appliance import subscription
from app.domain.appliance.service import remember_clock
from app.domain.drvas.states import DrvaStatus
from app.domain.events import service as events
from app.domain.protection_domains.models import (
    DomainReplication,
    ProtectedVm,
    ProtectionDomain,
    RecoveryPoint,
    recovery_point_id,
)
from app.domain.protection_domains.replication_states import ReplicationState, VmStatus, move
from app.domain.replication import repository
from app.domain.replication.run import (
    GIB,
    MINIMUM_STEP,
    DomainRun,
    GeneratorCache,
    ReplicatedVm,
    SampleCache,
    at_timestamp,
    base_segment,
    encoded_samples,
    generators,
    timestamp_of,
)
from app.domain.replication.step import DomainStep
from app.domain.storage_format.epochs import epoch_at, epoch_start, origin_epoch_at
from app.domain.storage_format.keys import recovery_point_key
from app.domain.storage_format.records import encode_recovery_point, recovery_point
from app.domain.storage_sites.models import StorageSite
from app.domain.storage_sites.service import store_of

if TYPE_CHECKING:
    from app.domain.platform import Platform

logger = logging.getLogger(__name__)

STEP = 60.0
# Catching up a long gap (an appliance that was down, a big clock advance) in coarser steps.
CATCH_UP_STEP = 600.0
CATCH_UP_AFTER = 1800.0
PARALLEL_DOMAINS = 4
R = ReplicationState


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
        self._stepper = DomainStep(platform)
        self._loop = Periodic(
            "replication-engine",
            platform.clock,
            platform.settings.replication.tick_seconds,
            self.settle,
        )
        # Held while domains are stepped and while tasks change what replicates.
        self.lock = asyncio.Lock()
        self._stores: dict[tuple[str, dt.datetime], ObjectStore] = {}
        self._generators = GeneratorCache()
        self._samples = SampleCache()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        self._stores.clear()
        self._generators.clear()
        self._samples.clear()

    async def settle(self) -> None:
        """Run every domain up to the clock's present."""
        async with self.lock:
            await self._run_all(self._platform.clock.timestamp())
        await remember_clock(self._platform)

    async def _run_all(self, until: float) -> None:
        async with self._platform.sessionmaker() as session:
            cursors = await repository.replication_cursors(session)
        self._generators.keep_only(list(cursors))
        self._samples.keep_only(list(cursors))
        # A domain already at `until` (the engine's own tick when the clock stood still) is
        # not even read. Another process may move a cursor meanwhile: `_advance` reads it again.
        domain_ids = [
            domain_id
            for domain_id, cursor in cursors.items()
            if timestamp_of(cursor) < until - MINIMUM_STEP
        ]
        names = [f"domain:{domain_id}" for domain_id in domain_ids]
        async with advisory_lock(self._platform.engine, *names):
            await self._advance(domain_ids, until)

    async def run_domain(self, domain_id: str, until: float) -> None:
        """Step one domain up to `until`; the caller holds `lock`."""
        async with advisory_lock(self._platform.engine, f"domain:{domain_id}"):
            await self._advance([domain_id], until)

    async def _advance(self, domain_ids: Sequence[str], until: float) -> None:
        """Steps the domains up to `until` and writes what changed in one transaction. Domains
        are independent: while one waits on its store, another runs; one whose step or write
        fails is left as it was (logged) and the others are written."""
        if not domain_ids:
            return
        async with self._platform.sessionmaker() as session:
            runs = await self._load(session, domain_ids)
        gate = asyncio.Semaphore(PARALLEL_DOMAINS)

        async def advance(run: DomainRun) -> DomainRun | None:
            async with gate:
                try:
                    while (cursor := timestamp_of(run.repl.cursor_at)) < until - MINIMUM_STEP:
                        step = CATCH_UP_STEP if until - cursor > CATCH_UP_AFTER else STEP
                        await self._stepper.step(
                            run, run.next_stop(cursor, min(until, cursor + step))
                        )
                except Exception:
                    # Nothing of it is written: its row and cached samples stay as they were.
                    logger.exception("replication step of domain %s failed", run.domain.id)
                    return None
                return run

        stepped = [run for run in await asyncio.gather(*map(advance, runs)) if run is not None]
        moved = [run for run in stepped if run.repl.changes()]
        if not moved:
            return
        try:
            await self._write(moved)
        except Exception:
            # One domain's rows can refuse the batch (a row a request changed meanwhile, a
            # constraint): write them one domain at a time, so the others still move on.
            logger.exception("writing a tick failed; writing its domains one by one")
            for run in moved:
                try:
                    await self._write([run])
                except Exception:
                    logger.exception("writing domain %s's step failed", run.domain.id)

    async def _write(self, runs: Sequence[DomainRun]) -> None:
        async with self._platform.sessionmaker() as session:
            await self._save(session, runs)
            await session.commit()
        for run in runs:
            self._samples.put(run.domain.id, run.repl.cursor_at, run.samples)

    async def _save(self, session: AsyncSession, runs: Sequence[DomainRun]) -> None:
        await repository.save_tick(session, runs)
        for run in runs:
            domain = run.domain
            for event in run.writes.events:
                events.record(session, **event)
            entity = ("protection_domain", domain.id, domain.name)
            for alarm_type, message, at in run.writes.alarms:
                if message is None:
                    await clear_alarm(session, alarm_type=alarm_type, entity_id=domain.id, at=at)
                else:
                    await raise_alarm(
                        session, alarm_type=alarm_type, entity=entity, message=message, at=at
                    )

    # -- loading -------------------------------------------------------------------------

    async def _load(self, session: AsyncSession, domain_ids: Sequence[str]) -> list[DomainRun]:
        rows = await repository.tick_rows(session, domain_ids)
        lapses_at = (await subscription.current(session)).bitmap_only_from()
        cached = {
            repl.domain_id: self._samples.get(repl.domain_id, repl.cursor_at)
            for _, repl, _, _ in rows.domains
        }
        missing = [domain_id for domain_id, samples in cached.items() if samples is None]
        loaded = await repository.samples_of(session, missing) if missing else {}
        bandwidth = self._platform.settings.replication.drva_bandwidth_mbps * 1_000_000 / 8
        runs = []
        for domain, repl, drva_status, volume_gb in rows.domains:
            if domain.status == "deleting":
                continue
            samples = cached[domain.id]
            if samples is None:
                samples = encoded_samples(loaded.get(domain.id, []))
            on_volume, on_drva = rows.sharing[domain.id]
            if volume_gb is not None:
                repl.log_capacity_bytes = volume_gb * GIB // max(on_volume, 1)
            site = rows.sites.get(domain.storage_site_id)
            store, error = None, None
            if site is not None:
                try:
                    store = FaultInjectingStore(
                        self._store(site), self._platform.faults, site.id, domain.id
                    )
                except Exception as failure:  # a store that cannot even be built is unreachable
                    error = f"storage site {site.name} cannot be used: {failure}"
            runs.append(
                DomainRun(
                    domain=domain,
                    repl=repl,
                    vms=self._generators.of(domain.id, rows.vms[domain.id]),
                    samples=samples,
                    store=store,
                    store_error=error,
                    drva_running=drva_status == DrvaStatus.RUNNING.value,
                    bandwidth=bandwidth / max(on_drva, 1),
                    lapses_at=lapses_at,
                )
            )
        return runs

    def _store(self, site: StorageSite) -> ObjectStore:
        key = (site.id, site.created_at)
        store = self._stores.get(key)
        if store is None:
            store = self._stores[key] = store_of(self._platform.secrets, site)
        return store

    # -- one step ------------------------------------------------------------------------

    # -- changes asked by tasks (the caller holds `lock`) --------------------------------

    @_exclusive
    async def begin(self, domain_id: str) -> None:
        """Start (or restart) protection: new VMs begin their initial sync; after a stop the
        changes made meanwhile are resynced."""
        now = self._platform.clock.timestamp()
        await self._advance([domain_id], now)
        self._samples.forget(domain_id)
        async with self._platform.sessionmaker() as session:
            repl = await session.get(DomainReplication, domain_id)
            if repl is None:
                boundary = epoch_at(now)
                session.add(
                    DomainReplication(
                        domain_id=domain_id,
                        state=R.REPLICATING.value,
                        cursor_at=at_timestamp(now),
                        captured_until=boundary,
                        shipped_until=boundary,
                        raised_alarms=[],
                        samples=[],
                    )
                )
            elif repl.state == R.STOPPED:
                repl.state = move(repl.state, R.BITMAP)
                repl.bitmap_since = at_timestamp(now)
            await repository.mark_origin(session, domain_id, origin_epoch_at(now))
            await session.commit()

    @_exclusive
    async def halt(self, domain_id: str) -> None:
        """Stop protection: nothing is captured or shipped; changes are tracked as dirty."""
        now = self._platform.clock.timestamp()
        await self._advance([domain_id], now)
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
            at = at_timestamp(now)
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
        await self._advance([domain_id], now)
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
        await self._advance([domain_id], now)
        async with self._platform.sessionmaker() as session:
            await repository.remove_vms(session, domain_id, vm_ids)
            await session.commit()

    @_exclusive
    async def quiesce(self, domain_id: str) -> int:
        """The domain's VMs were shut down for a handover: their writes end now. Returns the
        epoch the final recovery point must reach."""
        now = self._platform.clock.timestamp()
        await self._advance([domain_id], now)
        stopped = epoch_at(now)
        async with self._platform.sessionmaker() as session:
            await repository.stop_writes(session, domain_id, stopped)
            await session.commit()
            found = await repository.last_stopped_epoch(session, domain_id)
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
        self._samples.forget(domain_id)
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
                        session,
                        alarm_type=AlarmType(raised),
                        entity_id=domain_id,
                        at=at_timestamp(now),
                    )
                await session.delete(previous)
                await session.flush()
            rows = await repository.vms_in_order(session, domain_id)
            kept: list[ReplicatedVm] = []
            for row in rows:
                if row.replica_key not in vms:
                    await session.delete(row)
                    continue
                row.vm_id, row.base_image = vms[row.replica_key]
                row.status = status.value
                row.origin_epoch = origin
                row.stopped_epoch = None
                row.sync_total_bytes = row.sync_remaining_bytes = 0
                row.protected_at = at_timestamp(now)
                row.first_recovery_point_at = at_timestamp(epoch_start(origin))
                kept.append(ReplicatedVm(row, generators(row)))
            # Ownership and generation change with the replication row, in one transaction: a
            # step in between would take the new manifest for another site's.
            domain.epoch = generation
            domain.owner_site = self._platform.state.local_site
            if kept:
                segment = base_segment(generation, 1, kept)
                await store.put(domain.container, segment.key, segment.encode(domain.id))
                at = at_timestamp(epoch_start(origin))
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
                    cursor_at=at_timestamp(now),
                    captured_until=origin,
                    shipped_until=origin,
                    segment_seq=1,
                    last_recovery_point_at=at_timestamp(epoch_start(origin)) if kept else None,
                    compacted_at=at_timestamp(now),
                    raised_alarms=[],
                    samples=[],
                )
            )
            await session.commit()
        return origin
