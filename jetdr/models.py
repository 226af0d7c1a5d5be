"""Typed views of what the appliance returns. Unknown fields are kept (`extra="allow"`), so a
newer appliance never breaks an older client."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


class Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class TaskError(Model):
    error_code: str
    message: str


class TaskStep(Model):
    name: str
    status: str


class Entity(Model):
    type: str
    id: str
    name: str | None = None


class Task(Model):
    id: str
    type: str
    status: str
    progress: int
    entity: Entity
    steps: list[TaskStep] = []
    error: TaskError | None = None
    # What the task produced ({} until it does).
    result: dict[str, Any] = {}
    created_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None

    @field_validator("result", mode="before")
    @classmethod
    def _no_result_yet(cls, value: Any) -> Any:
        return {} if value is None else value

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")

    @property
    def current_step(self) -> str | None:
        return next((s.name for s in self.steps if s.status == "running"), None)


class VCenter(Model):
    id: str
    hostname: str
    status: str
    version: str | None = None


class Cluster(Model):
    id: str
    name: str
    status: str
    iofilter_status: str | None = None


class Host(Model):
    id: str
    name: str
    connection_state: str | None = None
    iofilter_status: str | None = None


class Drva(Model):
    id: str
    name: str
    status: str
    ip: str | None = None


class StorageSite(Model):
    id: str
    name: str
    type: str


class ProtectionDomain(Model):
    id: str
    name: str
    mode: str
    health: str
    owner_site: str | None = None  # the owning site's id
    owner_site_name: str | None = None
    rpo_seconds: float | None = None


class Alarm(Model):
    id: str
    type: str
    severity: str
    message: str | None = None
    cleared_at: dt.datetime | None = None


class Check(Model):
    name: str
    status: str
    message: str


class PreflightResult(Model):
    passed: bool
    checks: list[Check]


class RecoveryReport(Model):
    id: str
    domain_id: str
    kind: str
    status: str
    recovery_point_id: str | None = None
    rto_seconds: float | None = None
