"""The queries of recovery: operations (the reports), runbooks, and the domains they act on."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound
from app.domain.protection_domains.models import ProtectedVm, ProtectionDomain
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
