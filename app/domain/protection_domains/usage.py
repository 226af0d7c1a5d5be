"""Protection domains answer what they use (`app.domain.usage`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.protection_domains import repository
from app.domain.protection_domains.models import ProtectionDomain
from app.domain.usage import Used

_COLUMNS = {
    Used.DRVA: ProtectionDomain.drva_id,
    Used.LOG_VOLUME: ProtectionDomain.replication_log_volume_id,
    Used.STORAGE_SITE: ProtectionDomain.storage_site_id,
}


class ProtectionDomainUsage:
    async def names_using(self, session: AsyncSession, kind: Used, entity_id: str) -> Sequence[str]:
        if kind is Used.CLUSTER:
            return await repository.names_protecting_cluster(session, entity_id)
        return await repository.names_using(session, _COLUMNS[kind], entity_id)

    async def ids_by_drva(
        self, session: AsyncSession, drva_ids: Sequence[str]
    ) -> dict[str, list[str]]:
        return await repository.ids_by_drva(session, drva_ids)
