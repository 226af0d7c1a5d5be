"""The queries of the replication engine: the domains it steps, one domain's rows for a step,
its VMs' capture marks, and its recovery points' index."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, Text, Update, bindparam, delete, func, insert, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.drvas.models import Drva, ReplicationLogVolume
from app.domain.protection_domains.models import (
    DomainReplication,
    ProtectedVm,
    ProtectionDomain,
    RecoveryPoint,
)
from app.domain.replication.run import (
    DOMAIN_COLUMNS,
    REPLICATION_COLUMNS,
    DomainRun,
    StepDomain,
    StepReplication,
    StepVm,
    samples_text,
)
from app.domain.storage_sites.models import StorageSite


async def replication_cursors(session: AsyncSession) -> dict[str, dt.datetime]:
    """Each replicating domain's cursor: how far the engine has run it."""
    found = await session.execute(select(DomainReplication.domain_id, DomainReplication.cursor_at))
    return {row.domain_id: row.cursor_at for row in found}


_DOMAIN = cast(Table, ProtectionDomain.__table__)
_REPLICATION = cast(Table, DomainReplication.__table__)
_VM = cast(Table, ProtectedVm.__table__)

# A tick's statements are built once (with bind parameters): building one costs about as much
# as running it.
_TICK_ROWS = (
    select(
        *(_DOMAIN.c[name] for name in DOMAIN_COLUMNS),
        *(_REPLICATION.c[name] for name in REPLICATION_COLUMNS),
        Drva.status,
        ReplicationLogVolume.size_gb,
    )
    .join(_REPLICATION, _REPLICATION.c.domain_id == _DOMAIN.c.id)
    .outerjoin(Drva, Drva.id == _DOMAIN.c.drva_id)
    .outerjoin(
        ReplicationLogVolume,
        ReplicationLogVolume.id == _DOMAIN.c.replication_log_volume_id,
    )
    .where(_DOMAIN.c.id.in_(bindparam("domain_ids", expanding=True)))
    .order_by(_DOMAIN.c.id)
)


@dataclass
class TickRows:
    """Every row a tick steps, read in one transaction."""

    domains: list[tuple[StepDomain, StepReplication, str | None, int | None]]
    vms: dict[str, list[tuple[StepVm, str, str | None]]]
    sites: dict[str, StorageSite]
    # Domain id: (domains on its log volume, replicating domains its DRVA ships).
    sharing: dict[str, tuple[int, int]]


async def tick_rows(session: AsyncSession, domain_ids: Sequence[str]) -> TickRows:
    """(domain, replication row, DRVA status, log volume size) of each domain, its VMs in order
    with their disks and recovered image as the stored JSON text (the engine keeps their
    generators while that text stays the same), the storage sites and what each domain shares."""
    ids = list(domain_ids)
    domain_width, repl_width = len(DOMAIN_COLUMNS), len(REPLICATION_COLUMNS)
    domains = []
    for row in await session.execute(_TICK_ROWS, {"domain_ids": ids}):
        domain = StepDomain(*row[:domain_width])
        repl = StepReplication(*row[domain_width : domain_width + repl_width])
        domains.append((domain, repl, row[-2], row[-1]))
    vms: dict[str, list[tuple[StepVm, str, str | None]]] = {domain_id: [] for domain_id in ids}
    for row in await session.execute(_TICK_VMS, {"domain_ids": ids}):
        vms[row[0]].append((StepVm(*row[1:9]), row[9], row[10]))
    site_ids = {domain.storage_site_id for domain, *_ in domains}
    sites = {
        site.id: site
        for site in await session.scalars(select(StorageSite).where(StorageSite.id.in_(site_ids)))
    }
    return TickRows(domains, vms, sites, await _sharing(session, [d for d, *_ in domains]))


_TICK_VMS = (
    select(
        _VM.c.domain_id,
        _VM.c.id,
        _VM.c.vm_id,
        _VM.c.replica_key,
        _VM.c.status,
        _VM.c.origin_epoch,
        _VM.c.stopped_epoch,
        _VM.c.sync_remaining_bytes,
        _VM.c.first_recovery_point_at.is_(None),
        sql_cast(_VM.c.disks, Text),
        sql_cast(_VM.c.base_image, Text),
    )
    .where(_VM.c.domain_id.in_(bindparam("domain_ids", expanding=True)))
    .order_by(_VM.c.domain_id, _VM.c.added_at, _VM.c.id)
)

_SHARING = select(
    _DOMAIN.c.id,
    _DOMAIN.c.replication_log_volume_id,
    _DOMAIN.c.drva_id,
    _REPLICATION.c.domain_id.is_not(None),
).outerjoin(_REPLICATION, _REPLICATION.c.domain_id == _DOMAIN.c.id)


async def _sharing(
    session: AsyncSession, domains: Sequence[StepDomain]
) -> dict[str, tuple[int, int]]:
    """A log volume is shared by the domains on it; a DRVA's bandwidth by the replicating
    domains it ships (those on its volumes included)."""
    if not domains:
        return {}
    everyone = (await session.execute(_SHARING)).all()
    counts = {}
    for domain in domains:
        volume, drva = domain.replication_log_volume_id, domain.drva_id
        peers = [(v, replicating) for _, v, d, replicating in everyone if v == volume or d == drva]
        counts[domain.id] = (
            sum(v == volume for v, _ in peers),
            sum(bool(replicating) for _, replicating in peers),
        )
    return counts


async def vms_in_order(session: AsyncSession, domain_id: str) -> list[ProtectedVm]:
    return list(
        await session.scalars(
            select(ProtectedVm)
            .where(ProtectedVm.domain_id == domain_id)
            .order_by(ProtectedVm.added_at, ProtectedVm.id)
        )
    )


async def samples_of(session: AsyncSession, domain_ids: Sequence[str]) -> dict[str, list[Any]]:
    found = await session.execute(
        select(DomainReplication.domain_id, DomainReplication.samples).where(
            DomainReplication.domain_id.in_(list(domain_ids))
        )
    )
    return {domain_id: list(samples or []) for domain_id, samples in found}


_SAVE_VM = (
    update(_VM)
    .where(_VM.c.id == bindparam("saved_id"))
    .values(
        status=bindparam("saved_status"),
        sync_remaining_bytes=bindparam("saved_remaining"),
        # Set by the step that protected the VM or gave it its first point, else kept.
        protected_at=func.coalesce(
            bindparam("saved_protected_at", type_=_VM.c.protected_at.type), _VM.c.protected_at
        ),
        first_recovery_point_at=func.coalesce(
            bindparam("saved_first_point_at", type_=_VM.c.first_recovery_point_at.type),
            _VM.c.first_recovery_point_at,
        ),
    )
)


# Requests change these two as well (a site that learns another owns the domain fences it):
# they are written only when a step changed them. The engine alone writes the others.
_SHARED_COLUMNS = ("fenced", "last_error")
_ENGINE_COLUMNS = tuple(name for name in StepReplication.WRITTEN if name not in _SHARED_COLUMNS)


@functools.cache
def _save_replication(dialect: str) -> Update:
    """Every column the engine owns, and the samples as JSON text bound as they are: encoding a
    domain's 120 samples again every step cost more than the step. PostgreSQL is told the text
    is JSON; SQLite stores it as is."""
    samples: Any = bindparam("saved_samples", type_=Text)
    if dialect == "postgresql":
        samples = sql_cast(samples, DomainReplication.samples.type)
    return (
        update(_REPLICATION)
        .where(_REPLICATION.c.domain_id == bindparam("saved_domain_id"))
        .values(
            {
                name: bindparam(f"saved_{name}", type_=_REPLICATION.c[name].type)
                for name in _ENGINE_COLUMNS
            }
            | {"samples": samples}
        )
    )


async def save_tick(session: AsyncSession, runs: Sequence[DomainRun]) -> None:
    """Writes what a tick changed, into the caller's transaction: the replication rows, the VMs
    and the new recovery points each in one statement; a domain row only where a step changed
    it, and only those columns (a request may change others meanwhile)."""
    replications: list[dict[str, Any]] = []
    vms: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    for run in runs:
        repl = run.repl
        domain_changes = run.domain.changes()
        if domain_changes:
            await session.execute(
                update(_DOMAIN).where(_DOMAIN.c.id == run.domain.id).values(domain_changes)
            )
        shared = {name: value for name, value in repl.changes().items() if name in _SHARED_COLUMNS}
        if shared:
            await session.execute(
                update(_REPLICATION)
                .where(_REPLICATION.c.domain_id == repl.domain_id)
                .values(shared)
            )
        replications.append(
            {"saved_domain_id": repl.domain_id, "saved_samples": samples_text(run.samples)}
            | {f"saved_{name}": getattr(repl, name) for name in _ENGINE_COLUMNS}
        )
        for vm in run.vms:
            row = vm.row
            if isinstance(row, StepVm) and row.changed():
                vms.append(
                    {
                        "saved_id": row.id,
                        "saved_status": row.status,
                        "saved_remaining": row.sync_remaining_bytes,
                        "saved_protected_at": row.protected_at,
                        "saved_first_point_at": row.first_recovery_point_at,
                    }
                )
        points.extend(run.writes.recovery_points)
    if replications:
        await session.execute(_save_replication(session.get_bind().dialect.name), replications)
    if vms:
        await session.execute(_SAVE_VM, vms)
    if points:
        await session.execute(insert(RecoveryPoint), points)
    for run in runs:
        if run.writes.forget_before is not None:
            generation, cutoff = run.writes.forget_before
            await forget_points_before(session, run.domain.id, generation, cutoff)


async def mark_origin(session: AsyncSession, domain_id: str, origin_epoch: int) -> None:
    """VMs not yet tracked are tracked from this epoch on."""
    await session.execute(
        update(ProtectedVm)
        .where(ProtectedVm.domain_id == domain_id, ProtectedVm.origin_epoch.is_(None))
        .values(origin_epoch=origin_epoch)
    )


async def remove_vms(session: AsyncSession, domain_id: str, vm_ids: Sequence[str]) -> None:
    await session.execute(
        delete(ProtectedVm).where(
            ProtectedVm.domain_id == domain_id, ProtectedVm.vm_id.in_(list(vm_ids))
        )
    )


async def stop_writes(session: AsyncSession, domain_id: str, stopped_epoch: int) -> None:
    await session.execute(
        update(ProtectedVm)
        .where(ProtectedVm.domain_id == domain_id, ProtectedVm.stopped_epoch.is_(None))
        .values(stopped_epoch=stopped_epoch)
    )


async def last_stopped_epoch(session: AsyncSession, domain_id: str) -> int | None:
    found: int | None = await session.scalar(
        select(func.max(ProtectedVm.stopped_epoch)).where(ProtectedVm.domain_id == domain_id)
    )
    return found


async def newest_consistent_point(
    session: AsyncSession, domain_id: str, generation: int
) -> int | None:
    found: int | None = await session.scalar(
        select(func.max(RecoveryPoint.epoch)).where(
            RecoveryPoint.domain_id == domain_id,
            RecoveryPoint.generation == generation,
            RecoveryPoint.consistent.is_(True),
        )
    )
    return found


async def forget_points_before(
    session: AsyncSession, domain_id: str, generation: int, cutoff_epoch: int
) -> None:
    """Drops the index rows of points compacted away: older generations, older epochs."""
    await session.execute(
        delete(RecoveryPoint).where(
            RecoveryPoint.domain_id == domain_id,
            (RecoveryPoint.generation < generation)
            | ((RecoveryPoint.generation == generation) & (RecoveryPoint.epoch < cutoff_epoch)),
        )
    )
