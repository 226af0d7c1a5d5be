"""Azure Blob Storage over azure-storage-blob (shared-key auth); calls run in worker threads."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.storage.blob import BlobServiceClient, LinearRetry

from app.adapters.objectstore.errors import (
    ObjectNotFound,
    ObjectStoreError,
    StorageAuthFailed,
    StorageUnreachable,
)

T = TypeVar("T")


def translate(error: Exception) -> ObjectStoreError:
    if isinstance(error, ClientAuthenticationError):
        return StorageAuthFailed("Azure refused the account key")
    if isinstance(error, ResourceNotFoundError):
        return ObjectNotFound(str(error.reason or error.message))
    if isinstance(error, HttpResponseError) and error.status_code == 403:
        return StorageAuthFailed(f"Azure refused the request: {error.reason}")
    if isinstance(error, ServiceRequestError | OSError):
        return StorageUnreachable(f"cannot reach Azure Blob: {error}")
    return ObjectStoreError(str(error))


class AzureBlobObjectStore:
    def __init__(
        self,
        *,
        account_name: str,
        access_key: str,
        endpoint: str | None = None,
        limiter: anyio.CapacityLimiter | None = None,
    ) -> None:
        url = endpoint or f"https://{account_name}.blob.core.windows.net"
        self._service = BlobServiceClient(
            account_url=url,
            credential={"account_name": account_name, "account_key": access_key},
            # The SDK's default storage retry backs off from 15 s: a DRVA probing a store that
            # is down would stall its domain for a minute per call.
            retry_policy=LinearRetry(backoff=1, retry_total=1, random_jitter_range=0),
            connection_timeout=5,
            read_timeout=30,
        )
        self._limiter = limiter or anyio.CapacityLimiter(16)

    async def _run(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await anyio.to_thread.run_sync(
                functools.partial(call, *args, **kwargs), limiter=self._limiter
            )
        except Exception as error:
            raise translate(error) from error

    async def check(self) -> None:
        await self._run(lambda: next(iter(self._service.list_containers(results_per_page=1)), None))

    async def create_container(self, container: str) -> None:
        try:
            await self._run(self._service.create_container, container)
        except ObjectStoreError as error:
            if not isinstance(error.__cause__, ResourceExistsError):
                raise

    async def delete_container(self, container: str) -> None:
        await self._run(self._service.delete_container, container)

    async def list_containers(self, prefix: str = "") -> list[str]:
        names = await self._run(
            lambda: [c.name for c in self._service.list_containers(name_starts_with=prefix or None)]
        )
        return sorted(names)

    async def put(self, container: str, key: str, data: bytes) -> None:
        blob = self._service.get_blob_client(container, key)
        await self._run(blob.upload_blob, data, overwrite=True)

    async def get(self, container: str, key: str) -> bytes:
        blob = self._service.get_blob_client(container, key)
        return await self._run(lambda: blob.download_blob().readall())

    async def delete(self, container: str, key: str) -> None:
        await self._run(self._service.get_blob_client(container, key).delete_blob)

    async def list(self, container: str, prefix: str = "") -> list[str]:
        client = self._service.get_container_client(container)
        names = await self._run(
            lambda: [b.name for b in client.list_blobs(name_starts_with=prefix or None)]
        )
        return sorted(names)
