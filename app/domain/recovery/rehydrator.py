"""Continuous rehydration: while a continuous failover or failback waits for its completion,
its RocVA follows the container, so the operation always names the latest consistent point it
has rehydrated and completing it only takes what changed since."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.objectstore.errors import ObjectStoreError
from app.core.clock import VirtualClock
from app.core.db import SessionMaker
from app.core.periodic import Periodic
from app.core.security import SecretBox
from app.domain.protection_domains.models import ProtectionDomain, recovery_point_id
from app.domain.recovery import repository
from app.domain.recovery.models import RecoveryOperation
from app.domain.storage_format.epochs import epoch_start
from app.domain.storage_format.keys import recovery_point_epochs
from app.domain.storage_format.manifest import (
    read_manifest,
)
from app.domain.storage_format.records import read_recovery_point
from app.domain.storage_sites.models import StorageSite
from app.domain.storage_sites.service import store_of

logger = logging.getLogger(__name__)
EVERY_SECONDS = 60.0


class ContinuousRehydration:
    def __init__(self, sessionmaker: SessionMaker, clock: VirtualClock, secrets: SecretBox) -> None:
        self._sessionmaker = sessionmaker
        self._secrets = secrets
        self._loop = Periodic("continuous-rehydration", clock, EVERY_SECONDS, self.follow_all)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def follow_all(self) -> None:
        async with self._sessionmaker() as session:
            waiting = await repository.rehydrating(session)
            # Read once; every change below is a guarded UPDATE, never a flush of these objects.
            session.expunge_all()
            for op in waiting:
                try:
                    await self._follow(session, op)
                except ObjectStoreError as error:
                    # The store is unreachable: the RocVA keeps what it has and tries again.
                    logger.info("continuous rehydration of %s waits: %s", op.domain_name, error)
            await session.commit()

    async def _follow(self, session: AsyncSession, op: RecoveryOperation) -> None:
        domain = await session.get(ProtectionDomain, op.domain_id)
        site = await session.get(StorageSite, domain.storage_site_id) if domain else None
        if domain is None or site is None:
            return
        store = store_of(self._secrets, site)
        generation = (await read_manifest(store, domain.container)).epoch
        for epoch in reversed(await recovery_point_epochs(store, domain.container, generation)):
            if op.rehydrated_epoch is not None and epoch <= op.rehydrated_epoch:
                return
            point = await read_recovery_point(store, domain.container, generation, epoch)
            if point is not None and point["consistent"]:
                await repository.follow_point(
                    session,
                    op.id,
                    generation=generation,
                    rehydrated_epoch=epoch,
                    recovery_point_epoch=epoch,
                    recovery_point_id=recovery_point_id(domain.id, generation, epoch),
                    recovery_point_at=dt.datetime.fromtimestamp(epoch_start(epoch), dt.UTC),
                )
                return
