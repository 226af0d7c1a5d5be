from __future__ import annotations

from pydantic import Field

from app.core.clock import ClockMode
from app.core.schemas import ApiModel, RequestModel, Timestamp


class ClockRead(ApiModel):
    mode: ClockMode
    scale: float
    now: Timestamp


class ClockUpdate(RequestModel):
    mode: ClockMode | None = None
    scale: float | None = Field(default=None, gt=0, le=1_000_000)
    now: Timestamp | None = None


class ClockAdvance(RequestModel):
    seconds: float = Field(gt=0, le=10 * 365 * 86400)


class HealthRead(ApiModel):
    status: str
    appliance_status: str


class ResetRead(ApiModel):
    reset: bool
    duration_ms: float
