"""The queries of the replication engine: the domains it steps, one domain's rows for a step,
its VMs' capture marks, and its recovery points' index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Text, bindparam, delete, func, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.drvas.models import Drva, ReplicationLogVolume
from app.domain.protection_domains.models import (
    DomainReplication,
    ProtectedVm,
    ProtectionDomain,
    RecoveryPoint,
)
from app.domain.replication.run import StepVm
from app.domain.storage_sites.models import StorageSite


async def replicated_domain_ids(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(DomainReplication.domain_id)))


StepRows = tuple[ProtectionDomain, DomainReplication, StorageSite | None, str | None, int | None]


# A step's statements are built once (with bind parameters): building one costs about as much
# as running it.
_STEP_ROWS = (
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
    .where(ProtectionDomain.id == bindparam("domain_id"))
)


async def step_rows(session: AsyncSession, domain_id: str) -> StepRows | None:
    """(domain, replication state, storage site, DRVA status, log volume size) of a step."""
    found = (await session.execute(_STEP_ROWS, {"domain_id": domain_id})).first()
    return None if found is None else cast(StepRows, tuple(found))


async def vms_in_order(session: AsyncSession, domain_id: str) -> list[ProtectedVm]:
    return list(
        await session.scalars(
            select(ProtectedVm)
            .where(ProtectedVm.domain_id == domain_id)
            .order_by(ProtectedVm.added_at, ProtectedVm.id)
        )
    )


_STEP_VMS = (
    select(
        ProtectedVm.id,
        ProtectedVm.vm_id,
        ProtectedVm.replica_key,
        ProtectedVm.status,
        ProtectedVm.origin_epoch,
        ProtectedVm.stopped_epoch,
        ProtectedVm.sync_remaining_bytes,
        ProtectedVm.protected_at,
        ProtectedVm.first_recovery_point_at,
        sql_cast(ProtectedVm.disks, Text),
        sql_cast(ProtectedVm.base_image, Text),
    )
    .where(ProtectedVm.domain_id == bindparam("domain_id"))
    .order_by(ProtectedVm.added_at, ProtectedVm.id)
)


async def step_vms(session: AsyncSession, domain_id: str) -> list[tuple[StepVm, str, str | None]]:
    """A step's VMs in order, each with its disks and recovered image as the stored JSON text
    (the engine keeps their generators while that text stays the same)."""
    rows = await session.execute(_STEP_VMS, {"domain_id": domain_id})
    return [(StepVm(*row[:9]), row[9], row[10]) for row in rows]


_VM_TABLE = ProtectedVm.__table__
_SAVED_COLUMNS = ("status", "sync_remaining_bytes", "protected_at", "first_recovery_point_at")
_SAVE_VM = (
    update(_VM_TABLE)  # type: ignore[arg-type]
    .where(_VM_TABLE.c.id == bindparam("saved_id"))
    .values(
        {name: bindparam(f"saved_{name}", type_=_VM_TABLE.c[name].type) for name in _SAVED_COLUMNS}
    )
)


async def save_vms(session: AsyncSession, vms: Sequence[StepVm]) -> None:
    """Writes back, in one statement, what a step changed in its VMs."""
    changed: list[dict[str, Any]] = []
    for vm in vms:
        values = vm.changes()
        if values is not None:
            changed.append({f"saved_{name}": value for name, value in values.items()})
    if changed:
        await session.execute(_SAVE_VM, changed)


_SHARING = (
    select(ProtectionDomain.replication_log_volume_id, DomainReplication.domain_id)
    .outerjoin(DomainReplication, DomainReplication.domain_id == ProtectionDomain.id)
    .where(
        (ProtectionDomain.replication_log_volume_id == bindparam("volume_id"))
        | (ProtectionDomain.drva_id == bindparam("drva_id"))
    )
)


async def sharing(session: AsyncSession, domain: ProtectionDomain) -> tuple[int, int]:
    """(domains on the domain's log volume, replicating domains its DRVA ships)."""
    peers = (
        await session.execute(
            _SHARING,
            {"volume_id": domain.replication_log_volume_id, "drva_id": domain.drva_id},
        )
    ).all()
    on_volume = sum(volume == domain.replication_log_volume_id for volume, _ in peers)
    on_drva = sum(replicating is not None for _, replicating in peers)
    return on_volume, on_drva


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
