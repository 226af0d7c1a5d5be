from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator

from app.core.schemas import ApiModel, RequestModel, Timestamp
from app.domain.appliance.models import DaemonName
from app.domain.appliance.subscription import SubscriptionStatus


class DaemonRead(ApiModel):
    name: str
    status: Literal["running"]
    restarted_at: Timestamp | None


class ApplianceRead(ApiModel):
    hostname: str
    ip: str
    dns: list[str]
    ntp: list[str]
    time_skew_seconds: float | None
    subscription_id: str | None
    site_name: str
    site_id: str
    vm_name: str | None = Field(description="the MSA VM in vCenter, once an install deployed it")
    cpu_count: int
    memory_gb: int
    sshd_enabled: bool
    daemons: list[DaemonRead]
    installed_at: Timestamp
    updated_at: Timestamp


SUBSCRIPTION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"

# A clock a day off is already far past what any check tolerates.
MAX_SKEW_SECONDS = 86_400

HOSTNAME_PATTERN = (
    r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


class ApplianceUpdate(RequestModel):
    hostname: str | None = Field(default=None, pattern=HOSTNAME_PATTERN, max_length=253)
    dns: list[str] | None = Field(default=None, max_length=4)
    ntp: list[str] | None = Field(default=None, max_length=8)
    subscription_id: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=SUBSCRIPTION_ID_PATTERN
    )
    site_name: str | None = Field(default=None, min_length=1, max_length=128)
    ip: str | None = Field(
        default=None, max_length=64, description="the address vCenter reaches the appliance at"
    )
    time_skew_seconds: float | None = Field(
        default=None,
        ge=-MAX_SKEW_SECONDS,
        le=MAX_SKEW_SECONDS,
        description="how far the appliance's own clock is off true time (the vCenter "
        "registration compares it with vCenter's)",
    )

    @field_validator("ip")
    @classmethod
    def _ip_is_an_address(cls, value: str | None) -> str | None:
        return None if value is None else str(ipaddress.ip_address(value))

    @field_validator("dns")
    @classmethod
    def _dns_are_addresses(cls, value: list[str] | None) -> list[str] | None:
        for server in value or []:
            ipaddress.ip_address(server)
        return value


class SubscriptionRead(ApiModel):
    subscription_id: str | None
    status: SubscriptionStatus
    expires_at: Timestamp | None = Field(description="what the subscription server reports")
    grace_ends_at: Timestamp | None = Field(
        description="14 days after `expires_at`; from then on protected domains keep new writes "
        "in bitmaps only"
    )


class SubscriptionUpdate(RequestModel):
    subscription_id: str | None = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="the JetStream DR subscription id from the Azure Marketplace; null removes it",
    )


class SshdUpdate(RequestModel):
    enabled: bool


class DaemonRestart(RequestModel):
    name: DaemonName | None = Field(default=None, description="every daemon when absent")
