from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from app.core.clock import EARLIEST, LATEST, ClockMode, in_range
from app.core.faults import STEP_KINDS
from app.core.schemas import ApiModel, RequestModel, Timestamp

STEP_TARGET = re.compile(r"[a-z_]+\.([a-z_]+|\*)")


class ClockRead(ApiModel):
    mode: ClockMode
    scale: float
    now: Timestamp


class ClockUpdate(RequestModel):
    mode: ClockMode | None = None
    scale: float | None = Field(default=None, gt=0, le=1_000_000)
    now: Timestamp | None = Field(
        default=None, description=f"between {EARLIEST.date()} and {LATEST.date()}"
    )

    @field_validator("now")
    @classmethod
    def _on_the_calendar(cls, value: dt.datetime | None) -> dt.datetime | None:
        return _on_the_calendar(value)


def _on_the_calendar(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("give the time zone (RFC 3339)")
    try:
        value = value.astimezone(dt.UTC)
    except OverflowError as error:
        raise ValueError("not a time the clock can keep") from error
    if not in_range(value):
        raise ValueError(f"must be between {EARLIEST.date()} and {LATEST.date()}")
    return value


class SubscriptionReport(RequestModel):
    """What the subscription server reports for the appliance's subscription."""

    expires_at: Timestamp | None = Field(
        description=f"between {EARLIEST.date()} and {LATEST.date()}; null: no expiry"
    )

    @field_validator("expires_at")
    @classmethod
    def _on_the_calendar(cls, value: dt.datetime | None) -> dt.datetime | None:
        return _on_the_calendar(value)


class ClockAdvance(RequestModel):
    seconds: float = Field(gt=0, le=10 * 365 * 86400)
    settle: bool = True


class HealthRead(ApiModel):
    status: str
    appliance_status: str


class ResetRead(ApiModel):
    reset: bool
    duration_ms: float


class FaultCreate(RequestModel):
    target: str = Field(
        pattern=r"^[A-Za-z0-9_.*/-]{1,128}$",
        description="for `error`/`latency`/`hang`: `<task type>.<step>` or `<task type>.*`, "
        "e.g. `deploy_drva.power_on`; for `vcenter_fault`: a vCenter operation (`connect`, "
        "`create_vm`, `power_on_vm`, `install_iofilter`, …) or `*`; for `host_unreachable` "
        "and `cim_stopped`: an ESXi host name or `*`; for `objectstore_outage`: a storage site "
        "or protection domain id, or `*`; for `drva_crash`: a DRVA id or `*`; for `api_crash`: "
        "a request path glob (`/api/v1/clusters*`) or `*`",
    )
    kind: Literal[
        "error",
        "latency",
        "hang",
        "vcenter_fault",
        "host_unreachable",
        "cim_stopped",
        "objectstore_outage",
        "drva_crash",
        "api_crash",
    ]
    probability: float = Field(default=1.0, gt=0, le=1)
    count: int | None = Field(default=None, ge=1)
    delay_ms: int = Field(default=0, ge=0, le=3_600_000)
    error_code: str = Field(default="injected_fault", pattern=r"^[a-z_]{1,64}$")

    @model_validator(mode="after")
    def _target_fits_kind(self) -> FaultCreate:
        if self.kind in STEP_KINDS and not STEP_TARGET.fullmatch(self.target):
            raise ValueError(
                f"a {self.kind} fault targets a task step: `<task type>.<step>` or `<task type>.*`"
            )
        if self.kind == "api_crash" and not (self.target == "*" or self.target.startswith("/")):
            raise ValueError("an api_crash fault targets a request path glob or `*`")
        if self.kind != "api_crash" and "/" in self.target:
            raise ValueError(f"a {self.kind} fault does not target a path")
        return self


class FaultRead(ApiModel):
    id: str
    target: str
    kind: str
    probability: float
    count: int | None
    delay_ms: int
    error_code: str
    hits: int


class SnapshotSave(RequestModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    overwrite: bool = False


class SnapshotLoad(RequestModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class SnapshotClock(ApiModel):
    mode: str
    scale: float
    now: str


class SnapshotRead(ApiModel):
    name: str
    format: int | None
    schema_revision: str | None = Field(alias="schema", serialization_alias="schema")
    version: str | None
    created_at: str | None
    clock: SnapshotClock | None
    size_bytes: int
    rows: dict[str, int]


class SnapshotLoaded(ApiModel):
    name: str
    duration_ms: float


class JournalRead(ApiModel):
    at: Timestamp
    method: str
    path: str
    query: str
    route: str
    status: int
    duration_ms: float
    op_id: str
