"""What uses a cluster, a DRVA, a log volume or a storage site: protection domains do, and they
sit above those packages. Each package asks through this port, which protection domains
implement (`app.domain.protection_domains.usage`), so that a resource in use is refused (409)
before it is removed."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import InvalidState
from app.domain.platform import Platform, WorkerKey


class Used(StrEnum):
    CLUSTER = "cluster"  # a domain holds a VM that runs on it
    DRVA = "DRVA"
    LOG_VOLUME = "log volume"
    STORAGE_SITE = "storage site"


class DomainUsage(Protocol):
    async def names_using(self, session: AsyncSession, kind: Used, entity_id: str) -> Sequence[str]:
        """Names of the protection domains that use the entity."""

    async def ids_by_drva(
        self, session: AsyncSession, drva_ids: Sequence[str]
    ) -> dict[str, list[str]]:
        """DRVA id -> the ids of the domains it serves."""


DOMAIN_USAGE: WorkerKey[DomainUsage] = WorkerKey("domain usage")


async def refuse_in_use(
    session: AsyncSession, platform: Platform, kind: Used, entity_id: str
) -> None:
    names = await platform.worker(DOMAIN_USAGE).names_using(session, kind, entity_id)
    if names:
        what = kind.value
        raise InvalidState(
            f"the {what} is used by protection domain(s) {', '.join(sorted(names))}",
            entity=what.lower().replace(" ", "_"),
            state="in_use",
        )
