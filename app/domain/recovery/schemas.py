from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any, Literal

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
    prefix_length: int | None = Field(default=None, ge=0, le=128)
    gateway: str | None = None
    dns: list[str] = Field(default_factory=list, max_length=4)

    @field_validator("address", "netmask", "gateway")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        return None if value is None else str(ipaddress.ip_address(value))

    @field_validator("dns")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return [str(ipaddress.ip_address(server)) for server in value]

    @model_validator(mode="after")
    def _complete(self) -> RunbookIp:
        if self.mode == "static" and self.address is None:
            raise ValueError("a static address needs `address`")
        if self.netmask is not None and self.prefix_length is not None:
            raise ValueError("give netmask or prefix_length, not both")
        return self


class RunbookNetwork(RequestModel):
    source: str = Field(
        min_length=1, max_length=128, description="the NIC's network where the VM ran"
    )
    target: str = Field(min_length=1, max_length=64, description="a network of this site")


class RunbookVm(RequestModel):
    vm: str = Field(
        min_length=1, max_length=128, description="the VM's replica key or its name (or `vm_id`)"
    )
    boot_order: int = Field(default=0, ge=0, le=1000)
    delay_seconds: int = Field(
        default=0, ge=0, le=3600, description="virtual seconds to wait after it is up"
    )
    cpu: int | None = Field(default=None, ge=1, le=128)
    memory_mb: int | None = Field(
        default=None, ge=256, le=4 * 1024 * 1024, description="or `memory_gb`"
    )
    network_id: str | None = Field(default=None, description="a network of this site")
    networks: list[RunbookNetwork] = Field(
        default_factory=list,
        max_length=10,
        description="network mapping; the emulated VMs have one NIC: the first target is its "
        "network (unless `network_id` names one)",
    )
    ip: RunbookIp | None = None

    @model_validator(mode="before")
    @classmethod
    def _other_names(cls, data: Any) -> Any:
        """API.md's names: `vm_id` for `vm`, `memory_gb` for `memory_mb`."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "vm_id" in data:
            if "vm" in data:
                raise ValueError("give vm or vm_id, not both")
            data["vm"] = data.pop("vm_id")
        if "memory_gb" in data:
            if "memory_mb" in data:
                raise ValueError("give memory_mb or memory_gb, not both")
            gb = data.pop("memory_gb")
            data["memory_mb"] = round(gb * 1024) if isinstance(gb, int | float) else gb
        return data

    @property
    def target_network(self) -> str | None:
        return self.network_id or (self.networks[0].target if self.networks else None)


class RunbookScript(RequestModel):
    """Recorded with the runbook and run as a step of the recovery: the emulator interprets
    `echo`, `sleep` (virtual seconds) and `exit`; other commands are reported, not run."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
    when: Literal["before", "after"] = Field(
        description="before the group's VMs start, or after they are all up"
    )
    body: str = Field(max_length=16_384)


class RunbookGroup(RequestModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
    order: int = Field(default=0, ge=0, le=1000, description="groups start in this order")
    delay_seconds: int = Field(
        default=0,
        ge=0,
        le=3600,
        description="virtual seconds between the previous group being up and this one starting",
    )
    vms: list[RunbookVm] = Field(default_factory=list, max_length=1000)
    scripts: list[RunbookScript] = Field(default_factory=list, max_length=20)


RUNBOOK_ORDER_DESCRIPTION = (
    "runbooks start in this order: a recovery whose runbook has a higher order waits, before "
    "bringing its VMs up, until the recoveries running here whose runbooks have a lower order "
    "have all their VMs up (for at most an hour of virtual time)"
)


class RunbookUpdate(RequestModel):
    order: int = Field(default=0, ge=0, le=1000, description=RUNBOOK_ORDER_DESCRIPTION)
    vms: list[RunbookVm] = Field(
        default_factory=list,
        max_length=1000,
        description="independent VMs (the product's default), started first in boot order",
    )
    groups: list[RunbookGroup] = Field(default_factory=list, max_length=100)


class RunbookRead(ApiModel):
    id: str
    domain_id: str
    order: int = Field(description=RUNBOOK_ORDER_DESCRIPTION)
    vms: list[RunbookVm]
    groups: list[RunbookGroup]
    updated_at: Timestamp | None


class ScriptRunRead(ApiModel):
    name: str
    when: str
    exit_code: int
    output: str
    started_at: Timestamp
    finished_at: Timestamp


class RunbookStageRead(ApiModel):
    group: str | None = Field(description="null: the independent VMs")
    order: int
    delay_seconds: int
    started_at: Timestamp | None
    up_at: Timestamp | None = Field(description="when its last VM was up")
    vms: list[str]
    scripts: list[ScriptRunRead]


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
    group: str | None = Field(default=None, description="its runbook group (null: independent)")
    network_id: str | None = None
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
    runbook: list[RunbookStageRead] = Field(
        default_factory=list,
        description="the runbook as it ran: the independent VMs, then each group in order, "
        "with its delay, when it started and was up, and its scripts' output",
    )
