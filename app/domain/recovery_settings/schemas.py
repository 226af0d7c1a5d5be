from __future__ import annotations

from app.core.schemas import ApiModel, RequestModel, Timestamp


class RecoverySettingsUpdate(RequestModel):
    cluster_id: str
    datastore_id: str
    network_id: str
    test_network_id: str | None = None


class RecoverySettingsRead(ApiModel):
    configured: bool
    cluster_id: str | None = None
    datastore_id: str | None = None
    network_id: str | None = None
    test_network_id: str | None = None
    updated_by: str | None = None
    updated_at: Timestamp | None = None
