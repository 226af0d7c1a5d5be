from __future__ import annotations

from pydantic import Field

from app.core.schemas import ApiModel, RequestModel, Timestamp


class Pitr(RequestModel):
    enabled: bool = False
    window_days: int = Field(default=3, ge=1, le=30)


class DomainCreate(RequestModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,127}$")
    storage_site_id: str
    drva_id: str
    replication_log_volume_id: str
    rpo_target_seconds: int = Field(default=300, ge=30, le=86400)
    priority: int = Field(default=0, ge=0, le=100)
    pitr: Pitr = Field(default_factory=Pitr)


class DomainUpdate(RequestModel):
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,127}$")
    rpo_target_seconds: int | None = Field(default=None, ge=30, le=86400)
    priority: int | None = Field(default=None, ge=0, le=100)


class PitrRead(ApiModel):
    enabled: bool
    window_days: int


class DomainRead(ApiModel):
    id: str
    name: str
    status: str
    mode: str
    health: str
    primary_site: str
    recovery_site: str | None
    owner_site: str
    replication_enabled: bool
    rpo_seconds: float | None
    rpo_target_seconds: int
    priority: int
    vms: int
    storage_site_id: str
    drva_id: str
    replication_log_volume_id: str
    container: str
    pitr: PitrRead
    active_task_id: str | None
    created_at: Timestamp
