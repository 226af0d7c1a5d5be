"""S3 (and S3-compatible stores) over boto3; calls run in worker threads."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from app.adapters.objectstore.errors import (
    ObjectNotFound,
    ObjectStoreError,
    StorageAuthFailed,
    StorageMisconfigured,
    StorageUnreachable,
)

T = TypeVar("T")
AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"}
MISSING_CODES = {"NoSuchBucket", "NoSuchKey", "404", "NotFound"}


def translate(error: Exception) -> ObjectStoreError:
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        message = str(error.response.get("Error", {}).get("Message", "")) or code
        if code in AUTH_CODES:
            return StorageAuthFailed(f"S3 refused the credentials: {message}")
        if code in MISSING_CODES:
            return ObjectNotFound(message)
        return ObjectStoreError(f"S3 error {code}: {message}")
    if isinstance(error, EndpointConnectionError | BotoCoreError | OSError):
        return StorageUnreachable(f"cannot reach S3: {error}")
    return ObjectStoreError(str(error))


class S3ObjectStore:
    def __init__(
        self,
        *,
        endpoint: str | None,
        region: str,
        access_key_id: str,
        secret_access_key: str,
        limiter: anyio.CapacityLimiter | None = None,
    ) -> None:
        try:
            self._client = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name=region,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                config=Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=30),
            )
        except (BotoCoreError, ValueError) as error:
            raise StorageMisconfigured(f"the S3 settings are not usable: {error}") from error
        self._region = region
        self._limiter = limiter or anyio.CapacityLimiter(16)

    async def _run(self, call: Callable[..., T], **kwargs: Any) -> T:
        try:
            return await anyio.to_thread.run_sync(
                functools.partial(call, **kwargs), limiter=self._limiter
            )
        except Exception as error:
            raise translate(error) from error

    async def check(self) -> None:
        await self._run(self._client.list_buckets)

    async def create_container(self, container: str) -> None:
        try:
            await self._run(self._client.head_bucket, Bucket=container)
            return
        except ObjectNotFound:
            pass
        options: dict[str, Any] = {"Bucket": container}
        if self._region != "us-east-1":
            options["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
        await self._run(self._client.create_bucket, **options)

    async def delete_container(self, container: str) -> None:
        for key in await self.list(container):
            await self.delete(container, key)
        await self._run(self._client.delete_bucket, Bucket=container)

    async def list_containers(self, prefix: str = "") -> list[str]:
        answer = await self._run(self._client.list_buckets)
        return sorted(b["Name"] for b in answer.get("Buckets", []) if b["Name"].startswith(prefix))

    async def put(self, container: str, key: str, data: bytes) -> None:
        await self._run(self._client.put_object, Bucket=container, Key=key, Body=data)

    async def get(self, container: str, key: str) -> bytes:
        answer = await self._run(self._client.get_object, Bucket=container, Key=key)
        body: bytes = await anyio.to_thread.run_sync(answer["Body"].read, limiter=self._limiter)
        return body

    async def delete(self, container: str, key: str) -> None:
        await self._run(self._client.head_object, Bucket=container, Key=key)
        await self._run(self._client.delete_object, Bucket=container, Key=key)

    async def list(self, container: str, prefix: str = "") -> list[str]:
        keys: list[str] = []
        token: str | None = None
        while True:
            options: dict[str, Any] = {"Bucket": container, "Prefix": prefix}
            if token:
                options["ContinuationToken"] = token
            answer = await self._run(self._client.list_objects_v2, **options)
            keys.extend(item["Key"] for item in answer.get("Contents", []))
            if not answer.get("IsTruncated"):
                return sorted(keys)
            token = answer.get("NextContinuationToken")
