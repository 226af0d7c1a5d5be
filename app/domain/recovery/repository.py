"""The queries of recovery: operations (the reports), runbooks, and the domains they act on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound
from app.domain.inventory.models import Network, VirtualMachine
from app.domain.protection_domains.models import ProtectedVm, ProtectionDomain, RecoveryPoint
from app.domain.recovery.models import RecoveryOperation, Runbook
from app.domain.recovery_settings.models import RecoverySettings


async def domain_or_404(session: AsyncSession, domain_id: str) -> ProtectionDomain:
    domain = await session.get(ProtectionDomain, domain_id)
    if domain is None:
        raise NotFound(f"protection domain {domain_id} does not exist")
    return domain


async def domain_vms(session: AsyncSession, domain_id: str) -> Sequence[ProtectedVm]:
    return (
        await session.scalars(select(ProtectedVm).where(ProtectedVm.domain_id == domain_id))
    ).all()


async def runbook(session: AsyncSession, domain_id: str) -> Runbook | None:
    return await session.get(Runbook, domain_id)


async def running_elsewhere(
    session: AsyncSession, domain_id: str
) -> Sequence[tuple[RecoveryOperation, Runbook | None]]:
    """The recoveries running at this site for other domains, each with its domain's runbook."""
    rows = await session.execute(
        select(RecoveryOperation, Runbook)
        .outerjoin(Runbook, Runbook.domain_id == RecoveryOperation.domain_id)
        .where(RecoveryOperation.status == "running", RecoveryOperation.domain_id != domain_id)
    )
    return [(op, runbook) for op, runbook in rows]


def operations(domain_id: str | None, kind: str | None) -> Select[RecoveryOperation]:
    query = select(RecoveryOperation)
    if domain_id is not None:
        query = query.where(RecoveryOperation.domain_id == domain_id)
    if kind is not None:
        query = query.where(RecoveryOperation.kind == kind)
    return query


async def recent_operations(session: AsyncSession, limit: int) -> Sequence[RecoveryOperation]:
    return (
        await session.scalars(
            select(RecoveryOperation).order_by(RecoveryOperation.started_at.desc()).limit(limit)
        )
    ).all()


async def latest_operation(
    session: AsyncSession, domain_id: str, *, statuses: Sequence[str], kind: str | None = None
) -> RecoveryOperation | None:
    """The domain's newest operation in one of these statuses (of this kind)."""
    query = select(RecoveryOperation).where(
        RecoveryOperation.domain_id == domain_id, RecoveryOperation.status.in_(list(statuses))
    )
    if kind is not None:
        query = query.where(RecoveryOperation.kind == kind)
    found: RecoveryOperation | None = await session.scalar(
        query.order_by(RecoveryOperation.started_at.desc()).limit(1)
    )
    return found


async def settings_exist(session: AsyncSession) -> bool:
    return await session.scalar(select(RecoverySettings)) is not None


async def update_operation(session: AsyncSession, operation_id: str, **changes: Any) -> None:
    await session.execute(
        update(RecoveryOperation).where(RecoveryOperation.id == operation_id).values(**changes)
    )


async def settings(session: AsyncSession) -> RecoverySettings | None:
    found: RecoverySettings | None = await session.scalar(select(RecoverySettings))
    return found


async def network_morefs(session: AsyncSession, vcenter_id: str) -> dict[str, str]:
    """network id -> moref, for the networks of one vCenter."""
    rows = await session.scalars(select(Network).where(Network.vcenter_id == vcenter_id))
    return {network.id: network.moref for network in rows}


async def vm_ids_by_moref(session: AsyncSession, vcenter_id: str) -> dict[str, str]:
    """moref -> VM id, for the VMs of one vCenter as the inventory knows them."""
    rows = await session.scalars(
        select(VirtualMachine).where(VirtualMachine.vcenter_id == vcenter_id)
    )
    return {vm.moref: vm.id for vm in rows}


async def vms_by_replica_key(session: AsyncSession, domain_id: str) -> dict[str, ProtectedVm]:
    return {row.replica_key: row for row in await domain_vms(session, domain_id)}


async def local_morefs_of(session: AsyncSession, domain_id: str, vcenter_id: str) -> set[str]:
    """The morefs the domain's rows name in this vCenter (VMs from an earlier stay here)."""
    return set(
        await session.scalars(
            select(VirtualMachine.moref)
            .join(ProtectedVm, ProtectedVm.vm_id == VirtualMachine.id)
            .where(ProtectedVm.domain_id == domain_id, VirtualMachine.vcenter_id == vcenter_id)
        )
    )


async def forget_local_vm(session: AsyncSession, vcenter_id: str, moref: str) -> bool:
    """The domain row that names this VM forgets it (the VM is about to be destroyed and its
    id cascades); False when no row named it."""
    vm_id = await session.scalar(
        select(VirtualMachine.id).where(
            VirtualMachine.vcenter_id == vcenter_id, VirtualMachine.moref == moref
        )
    )
    if vm_id is None:
        return False
    await session.execute(update(ProtectedVm).where(ProtectedVm.vm_id == vm_id).values(vm_id=None))
    return True


async def running_vms(session: AsyncSession, domain_id: str) -> list[tuple[str, str]]:
    """(vCenter id, moref) of each of the domain's VMs that runs at this site."""
    rows = await session.execute(
        select(VirtualMachine.vcenter_id, VirtualMachine.moref)
        .join(ProtectedVm, ProtectedVm.vm_id == VirtualMachine.id)
        .where(ProtectedVm.domain_id == domain_id)
    )
    return [(vcenter_id, moref) for vcenter_id, moref in rows.all()]


async def newest_point(
    session: AsyncSession, domain_id: str, generation: int
) -> RecoveryPoint | None:
    found: RecoveryPoint | None = await session.scalar(
        select(RecoveryPoint)
        .where(RecoveryPoint.domain_id == domain_id, RecoveryPoint.generation == generation)
        .order_by(RecoveryPoint.epoch.desc())
        .limit(1)
    )
    return found


async def vms_by_name(session: AsyncSession, domain_id: str) -> list[ProtectedVm]:
    return list(
        await session.scalars(
            select(ProtectedVm).where(ProtectedVm.domain_id == domain_id).order_by(ProtectedVm.name)
        )
    )


async def rehydrating(session: AsyncSession) -> list[RecoveryOperation]:
    return list(
        await session.scalars(
            select(RecoveryOperation).where(RecoveryOperation.status == "rehydrating")
        )
    )


async def follow_point(session: AsyncSession, operation_id: str, **point: Any) -> None:
    """Moves a continuous recovery to a newer point, only while it still waits: a completion
    that started meanwhile pins its own point, which this must not overwrite."""
    await session.execute(
        update(RecoveryOperation)
        .where(RecoveryOperation.id == operation_id, RecoveryOperation.status == "rehydrating")
        .values(**point)
        .execution_options(synchronize_session=False)
    )


async def protected_vm(session: AsyncSession, vm_id: str) -> ProtectedVm | None:
    found: ProtectedVm | None = await session.scalar(
        select(ProtectedVm).where(ProtectedVm.vm_id == vm_id)
    )
    return found


async def point_of_vm(
    session: AsyncSession, domain_id: str, recovery_point_id: str | None
) -> RecoveryPoint | None:
    """The named point of the domain, else its newest."""
    query = select(RecoveryPoint).where(RecoveryPoint.domain_id == domain_id)
    if recovery_point_id is not None:
        query = query.where(RecoveryPoint.id == recovery_point_id)
    found: RecoveryPoint | None = await session.scalar(
        query.order_by(RecoveryPoint.generation.desc(), RecoveryPoint.epoch.desc()).limit(1)
    )
    return found
