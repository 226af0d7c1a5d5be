from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator, model_validator

from app.core.schemas import ApiModel, RequestModel, Timestamp


class ImportRequest(RequestModel):
    storage_site_id: str
    domain_id: str | None = Field(
        default=None, description="the id `scan-domains` found; the same as the path's id"
    )
    drva_id: str | None = Field(
        default=None, description="the DRVA that protects the domain once it runs here"
    )
    replication_log_volume_id: str | None = None


class PointChoice(RequestModel):
    """Which recovery point: one by id, or (PITR) the newest consistent one at or before a
    time within the window; neither: the latest consistent point."""

    recovery_point_id: str | None = Field(default=None, description="default: the latest")
    point_in_time: Timestamp | None = Field(
        default=None,
        description="PITR domains: recover the newest consistent point at or before this time "
        "(RFC 3339, within the window)",
    )

    @field_validator("point_in_time")
    @classmethod
    def _zoned(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the time zone (RFC 3339)")
        return None if value is None else value.astimezone(dt.UTC)

    @model_validator(mode="after")
    def _one_way(self) -> PointChoice:
        if self.recovery_point_id is not None and self.point_in_time is not None:
            raise ValueError("give recovery_point_id or point_in_time, not both")
        return self


class FailoverRequest(PointChoice):
    type: Literal["regular", "planned", "forced"] = "regular"
    continuous: bool = False
    runbook_id: str | None = None


class CompleteFailoverRequest(PointChoice):
    """Completing a continuous failover recovers the latest consistent point, or the one
    chosen here (a point-in-time recovery)."""


class RestoreRequest(PointChoice):
    runbook_id: str | None = None
    force: bool = Field(
        default=False,
        description="restore although the site that owns the domain still answers (it is "
        "fenced by the new epoch)",
    )


class TestFailoverRequest(PointChoice):
    pass


class StopTestFailoverRequest(RequestModel):
    success: bool
    summary: str = Field(default="", max_length=4000)


class FailbackRequest(RequestModel):
    continuous: bool = False
    max_delay_minutes: int = Field(default=10, ge=1, le=1440)


class ReleaseRequest(RequestModel):
    to_site: str = Field(min_length=1, max_length=128)


class RunbookIp(RequestModel):
    mode: Literal["dhcp", "static"] = "dhcp"
    address: str | None = None
    netmask: str | None = None
    gateway: str | None = None


class RunbookVm(RequestModel):
    vm: str = Field(description="the VM's replica key or its name")
    boot_order: int = Field(default=0, ge=0, le=1000)
    delay_seconds: int = Field(default=0, ge=0, le=3600)
    cpu: int | None = Field(default=None, ge=1, le=128)
    memory_mb: int | None = Field(default=None, ge=256, le=4 * 1024 * 1024)
    network_id: str | None = Field(default=None, description="a network of this site")
    ip: RunbookIp | None = None


class RunbookUpdate(RequestModel):
    vms: list[RunbookVm] = Field(default_factory=list, max_length=1000)


class RunbookRead(ApiModel):
    id: str
    domain_id: str
    vms: list[RunbookVm]
    updated_at: Timestamp | None


class RecoveredVmRead(ApiModel):
    key: str
    name: str
    vm_id: str | None = None
    moref: str | None = None
    outcome: str
    error: str | None = None
    cpu: int | None = None
    memory_mb: int | None = None
    ip: str | None = None
    powered_on_at: Timestamp | None = None
    recovered_at: Timestamp | None = Field(
        default=None,
        description="from when the VM's own writes count (its disks before that "
        "are the recovery point's)",
    )


class RecoveryReportRead(ApiModel):
    id: str
    domain_id: str
    domain_name: str
    kind: str
    type: str
    continuous: bool
    status: str
    actor: str
    task_id: str | None
    source_site: str = Field(description="the id of the site the VMs came from")
    target_site: str = Field(description="the id of the site they were recovered at")
    source_site_name: str
    target_site_name: str
    recovery_point_id: str | None
    recovery_point_at: Timestamp | None
    started_at: Timestamp
    finished_at: Timestamp | None
    rto_seconds: float | None = Field(description="virtual seconds from request to VMs up")
    success: bool | None
    summary: str | None
    error: str | None
    vms: list[RecoveredVmRead]
