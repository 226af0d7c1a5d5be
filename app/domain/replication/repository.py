"""The queries of the replication engine: the domains it steps, one domain's rows for a step,
its VMs' capture marks, and its recovery points' index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.drvas.models import Drva, ReplicationLogVolume
from app.domain.protection_domains.models import (
    DomainReplication,
    ProtectedVm,
    ProtectionDomain,
    RecoveryPoint,
)
from app.domain.storage_sites.models import StorageSite


async def replicated_domain_ids(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(DomainReplication.domain_id)))


StepRows = tuple[ProtectionDomain, DomainReplication, StorageSite | None, str | None, int | None]


async def step_rows(session: AsyncSession, domain_id: str) -> StepRows | None:
    """(domain, replication state, storage site, DRVA status, log volume size) of a step."""
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
    return None if found is None else cast(StepRows, tuple(found))


async def vms_in_order(session: AsyncSession, domain_id: str) -> list[ProtectedVm]:
    return list(
        await session.scalars(
            select(ProtectedVm)
            .where(ProtectedVm.domain_id == domain_id)
            .order_by(ProtectedVm.added_at, ProtectedVm.id)
        )
    )


async def sharing(session: AsyncSession, domain: ProtectionDomain) -> tuple[int, int]:
    """(domains on the domain's log volume, replicating domains its DRVA ships)."""
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
