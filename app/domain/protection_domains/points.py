"""A domain's recovery points as the container lists them, mirrored into this site's table
(a domain another site owns gets its points only from there)."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.objectstore.port import ObjectStore
from app.domain.protection_domains import repository
from app.domain.protection_domains.models import (
    ProtectionDomain,
    RecoveryPoint,
    recovery_point_id,
)
from app.domain.storage_format.epochs import epoch_start
from app.domain.storage_format.keys import recovery_point_epochs
from app.domain.storage_format.records import RecoveryPointRecord, read_recovery_point

READERS = 16


async def sync_points(session: AsyncSession, domain: ProtectionDomain, store: ObjectStore) -> int:
    """Mirror the points of the domain's current generation; returns how many there are. The
    caller commits."""
    generation = domain.epoch
    epochs = await recovery_point_epochs(store, domain.container, generation)
    known = await repository.point_epochs(session, domain.id, generation)
    gate = asyncio.Semaphore(READERS)

    async def read(epoch: int) -> tuple[int, RecoveryPointRecord | None]:
        async with gate:
            return epoch, await read_recovery_point(store, domain.container, generation, epoch)

    found = await asyncio.gather(*(read(epoch) for epoch in epochs if epoch not in known))
    for epoch, body in found:
        if body is None:
            continue
        session.add(
            RecoveryPoint(
                id=recovery_point_id(domain.id, generation, epoch),
                domain_id=domain.id,
                generation=generation,
                epoch=epoch,
                timestamp=dt.datetime.fromtimestamp(epoch_start(epoch), dt.UTC),
                consistent=bool(body.get("consistent")),
                vm_ids=list(body.get("vm_ids") or []),
            )
        )
    await repository.keep_only_points(session, domain.id, generation, epochs)
    return len(epochs)
