from __future__ import annotations

from pydantic import Field, SecretStr

from app.core.schemas import ApiModel, RequestModel, Timestamp

HOSTNAME_OR_IP = r"^[A-Za-z0-9]([A-Za-z0-9.:-]{0,253}[A-Za-z0-9])?$"


class VCenterCreate(RequestModel):
    hostname: str = Field(pattern=HOSTNAME_OR_IP, max_length=255)
    port: int = Field(default=443, ge=1, le=65535)
    username: str = Field(min_length=1, max_length=255)
    password: SecretStr = Field(min_length=1, max_length=512)
    register_with_ip: bool = False


class PluginRead(ApiModel):
    key: str
    version: str | None
    registered: bool


class VCenterRead(ApiModel):
    id: str
    hostname: str
    port: int
    username: str
    version: str | None
    build: str | None
    status: str
    plugin: PluginRead
    register_with_ip: bool
    active_task_id: str | None
    last_error: str | None
    inventory_refreshed_at: Timestamp | None
    created_at: Timestamp
