"""Build the object store a storage site describes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app.adapters.objectstore.port import ObjectStore


@dataclass(frozen=True)
class StoreSpec:
    type: str
    endpoint: str | None = None
    account_name: str | None = None
    access_key: str | None = field(default=None, repr=False)
    region: str | None = None
    path: str | None = None


def build_store(spec: StoreSpec) -> ObjectStore:
    if spec.type == "local":
        from app.adapters.objectstore.local import LocalObjectStore

        assert spec.path is not None
        return LocalObjectStore(Path(spec.path))
    if spec.type == "s3":
        from app.adapters.objectstore.s3 import S3ObjectStore

        return S3ObjectStore(
            endpoint=spec.endpoint,
            region=spec.region or "us-east-1",
            access_key_id=spec.account_name or "",
            secret_access_key=spec.access_key or "",
        )
    if spec.type == "azure_blob":
        from app.adapters.objectstore.azure_blob import AzureBlobObjectStore

        return AzureBlobObjectStore(
            account_name=spec.account_name or "",
            access_key=spec.access_key or "",
            endpoint=spec.endpoint,
        )
    raise ValueError(f"unknown storage type {spec.type}")
