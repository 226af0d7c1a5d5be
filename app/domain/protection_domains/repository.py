from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import InvalidState
from app.domain.protection_domains.models import ProtectionDomain


async def names_using(session: AsyncSession, column: Any, value: str) -> Sequence[str]:
    """Names of the domains whose `column` (storage site, DRVA, log volume) is `value`."""
    return (await session.scalars(select(ProtectionDomain.name).where(column == value))).all()


async def refuse_in_use(session: AsyncSession, column: Any, value: str, what: str) -> None:
    names = await names_using(session, column, value)
    if names:
        raise InvalidState(
            f"the {what} is used by protection domain(s) {', '.join(sorted(names))}",
            entity=what.lower().replace(" ", "_"),
            state="in_use",
        )


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
