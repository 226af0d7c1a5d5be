"""What protection domains ask of the replication engine, which sits above them (it reads their
rows) and implements this."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from app.domain.platform import WorkerKey
from app.domain.protection_domains.models import ProtectedVm


class ReplicationControl(Protocol):
    # Held while the engine steps domains: a change to a domain's rows waits for the step.
    lock: asyncio.Lock

    async def attach(self, domain_id: str, rows: Sequence[ProtectedVm]) -> None: ...

    async def detach(self, domain_id: str, vm_ids: Sequence[str]) -> None: ...

    async def begin(self, domain_id: str) -> None: ...

    async def halt(self, domain_id: str) -> None: ...


REPLICATION_CONTROL: WorkerKey[ReplicationControl] = WorkerKey("replication control")
