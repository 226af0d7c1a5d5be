"""The only surface of object storage the domain uses: containers (Azure) or buckets (S3) of
`/`-delimited keys holding immutable byte objects."""

from __future__ import annotations

import re
from typing import Protocol

# Valid for an Azure container and an S3 bucket alike.
CONTAINER_NAME = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")


class ObjectStore(Protocol):
    async def check(self) -> None:
        """Prove the endpoint answers and the credentials are accepted."""
        ...

    async def create_container(self, container: str) -> None:
        """Idempotent."""
        ...

    async def delete_container(self, container: str) -> None: ...

    async def list_containers(self, prefix: str = "") -> list[str]: ...

    async def put(self, container: str, key: str, data: bytes) -> None: ...

    async def get(self, container: str, key: str) -> bytes: ...

    async def delete(self, container: str, key: str) -> None: ...

    async def list(self, container: str, prefix: str = "") -> list[str]: ...
