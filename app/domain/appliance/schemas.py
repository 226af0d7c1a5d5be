from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

from app.core.schemas import ApiModel, RequestModel, Timestamp


class ApplianceRead(ApiModel):
    hostname: str
    ip: str
    dns: list[str]
    ntp: list[str]
    time_skew_seconds: float | None
    subscription_id: str | None
    site_name: str
    site_id: str
    installed_at: Timestamp
    updated_at: Timestamp


HOSTNAME_PATTERN = (
    r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


class ApplianceUpdate(RequestModel):
    hostname: str | None = Field(default=None, pattern=HOSTNAME_PATTERN, max_length=253)
    dns: list[str] | None = Field(default=None, max_length=4)
    ntp: list[str] | None = Field(default=None, max_length=8)
    subscription_id: str | None = Field(default=None, min_length=1, max_length=128)
    site_name: str | None = Field(default=None, min_length=1, max_length=128)

    @field_validator("dns")
    @classmethod
    def _dns_are_addresses(cls, value: list[str] | None) -> list[str] | None:
        for server in value or []:
            ipaddress.ip_address(server)
        return value
