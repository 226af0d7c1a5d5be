from __future__ import annotations

from app.core.schemas import ApiModel, Timestamp


class DiskDigest(ApiModel):
    key: int
    digest: str


class DigestRead(ApiModel):
    vm_id: str
    at: Timestamp
    source: str
    digest: str
    disks: list[DiskDigest]
