from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from app.domain.inventory.models import VirtualMachine
from app.domain.protection_domains.models import (
    DomainReplication,
    ProtectedVm,
    ProtectionDomain,
    RecoveryPoint,
)


async def names_using(session: AsyncSession, column: Any, value: str) -> Sequence[str]:
    """Names of the domains whose `column` (storage site, DRVA, log volume) is `value`."""
    return (await session.scalars(select(ProtectionDomain.name).where(column == value))).all()


async def ids_by_drva(session: AsyncSession, drva_ids: Sequence[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {drva_id: [] for drva_id in drva_ids}
    rows = await session.execute(
        select(ProtectionDomain.drva_id, ProtectionDomain.id).where(
            ProtectionDomain.drva_id.in_(list(drva_ids))
        )
    )
    for drva_id, domain_id in rows.all():
        grouped[drva_id].append(domain_id)
    return grouped


async def vm_counts(session: AsyncSession, domain_ids: Sequence[str]) -> dict[str, int]:
    rows = await session.execute(
        select(ProtectedVm.domain_id, func.count())
        .where(ProtectedVm.domain_id.in_(list(domain_ids)))
        .group_by(ProtectedVm.domain_id)
    )
    return {domain_id: int(count) for domain_id, count in rows.all()}


async def replications(
    session: AsyncSession, domain_ids: Sequence[str]
) -> dict[str, DomainReplication]:
    """Without their statistics samples (a domain's read does not show them, and decoding 120
    of them per domain was most of a list's cost)."""
    rows = await session.scalars(
        select(DomainReplication)
        .where(DomainReplication.domain_id.in_(list(domain_ids)))
        .options(defer(DomainReplication.samples, raiseload=True))
    )
    return {row.domain_id: row for row in rows}


async def protected_vms(session: AsyncSession, domain_id: str) -> Sequence[ProtectedVm]:
    return (
        await session.scalars(
            select(ProtectedVm)
            .where(ProtectedVm.domain_id == domain_id)
            .order_by(ProtectedVm.added_at, ProtectedVm.name)
        )
    ).all()


async def protected_elsewhere(session: AsyncSession, vm_ids: Sequence[str]) -> dict[str, str]:
    """VM id -> the name of the domain that already protects it."""
    rows = await session.execute(
        select(ProtectedVm.vm_id, ProtectionDomain.name)
        .join(ProtectionDomain, ProtectionDomain.id == ProtectedVm.domain_id)
        .where(ProtectedVm.vm_id.in_(list(vm_ids)))
    )
    return {str(vm_id): str(name) for vm_id, name in rows.all()}


async def recovery_points(
    session: AsyncSession,
    domain_id: str,
    *,
    generation: int,
    since: dt.datetime | None,
    limit: int | None,
    consistent: bool = False,
) -> Sequence[RecoveryPoint]:
    """The points of one ownership generation, newest first."""
    query = (
        select(RecoveryPoint)
        .where(RecoveryPoint.domain_id == domain_id, RecoveryPoint.generation == generation)
        .order_by(RecoveryPoint.epoch.desc())
    )
    if since is not None:
        query = query.where(RecoveryPoint.timestamp >= since)
    if consistent:
        query = query.where(RecoveryPoint.consistent.is_(True))
    if limit is not None:
        query = query.limit(limit)
    return (await session.scalars(query)).all()


async def names_protecting_cluster(session: AsyncSession, cluster_id: str) -> Sequence[str]:
    """Names of the domains holding a VM that runs on the cluster."""
    return (
        await session.scalars(
            select(ProtectionDomain.name)
            .distinct()
            .join(ProtectedVm, ProtectedVm.domain_id == ProtectionDomain.id)
            .join(VirtualMachine, VirtualMachine.id == ProtectedVm.vm_id)
            .where(VirtualMachine.cluster_id == cluster_id)
        )
    ).all()


async def all_by_name(session: AsyncSession) -> Sequence[ProtectionDomain]:
    return (await session.scalars(select(ProtectionDomain).order_by(ProtectionDomain.name))).all()


async def name_taken(session: AsyncSession, name: str) -> bool:
    found = await session.scalar(select(ProtectionDomain.id).where(ProtectionDomain.name == name))
    return found is not None


async def forget_domain_rows(session: AsyncSession, domain_id: str) -> None:
    """The domain's points, VMs and replication state (the domain row is the caller's)."""
    for model in (RecoveryPoint, ProtectedVm, DomainReplication):
        await session.execute(delete(model).where(model.domain_id == domain_id))


async def point_epochs(session: AsyncSession, domain_id: str, generation: int) -> set[int]:
    return set(
        await session.scalars(
            select(RecoveryPoint.epoch).where(
                RecoveryPoint.domain_id == domain_id, RecoveryPoint.generation == generation
            )
        )
    )


async def keep_only_points(
    session: AsyncSession, domain_id: str, generation: int, epochs: Sequence[int]
) -> None:
    """Drops the index rows of points no longer in the container."""
    await session.execute(
        delete(RecoveryPoint).where(
            RecoveryPoint.domain_id == domain_id,
            (RecoveryPoint.generation != generation) | RecoveryPoint.epoch.not_in(list(epochs)),
        )
    )
