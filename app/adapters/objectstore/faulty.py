"""An object store as one DRVA reaches it, with `objectstore_outage` rules applied: while a rule
names one of the entities the connection serves (a storage site, a protection domain, or `*`),
every call fails as if the network was down.

Whether the store is cut off is decided when the DRVA reconnects (once per replication step),
so a rule's probability and count apply per step, not per object."""

from __future__ import annotations

from app.adapters.objectstore.errors import StorageUnreachable
from app.adapters.objectstore.port import ObjectStore
from app.core.faults import FaultRegistry


class FaultInjectingStore:
    def __init__(self, inner: ObjectStore, faults: FaultRegistry, *entity_ids: str) -> None:
        self._inner = inner
        self._faults = faults
        self._entity_ids = entity_ids
        self._cut_off = False

    def reconnect(self) -> None:
        self._cut_off = self._faults.storage_outage(*self._entity_ids)

    @property
    def reachable(self) -> bool:
        return not self._cut_off

    def require_reachable(self) -> None:
        if self._cut_off:
            raise StorageUnreachable("the object store is unreachable (injected outage)")

    async def check(self) -> None:
        self.require_reachable()
        await self._inner.check()

    async def create_container(self, container: str) -> None:
        self.require_reachable()
        await self._inner.create_container(container)

    async def delete_container(self, container: str) -> None:
        self.require_reachable()
        await self._inner.delete_container(container)

    async def list_containers(self, prefix: str = "") -> list[str]:
        self.require_reachable()
        return await self._inner.list_containers(prefix)

    async def put(self, container: str, key: str, data: bytes) -> None:
        self.require_reachable()
        await self._inner.put(container, key, data)

    async def get(self, container: str, key: str) -> bytes:
        self.require_reachable()
        return await self._inner.get(container, key)

    async def delete(self, container: str, key: str) -> None:
        self.require_reachable()
        await self._inner.delete(container, key)

    async def list(self, container: str, prefix: str = "") -> list[str]:
        self.require_reachable()
        return await self._inner.list(container, prefix)
