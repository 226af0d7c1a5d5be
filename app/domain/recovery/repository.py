"""The queries of recovery: operations (the reports), runbooks, and the domains they act on."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound
from app.domain.protection_domains.models import ProtectedVm, ProtectionDomain
from app.domain.recovery.models import RecoveryOperation, Runbook


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
