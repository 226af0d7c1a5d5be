from __future__ import annotations

from typing import Any

from pydantic import Field

from app.core.schemas import ApiModel, EntityRef, Timestamp


class TaskError(ApiModel):
    error_code: str
    message: str


class TaskStep(ApiModel):
    name: str
    status: str


class TaskRead(ApiModel):
    id: str
    type: str
    status: str
    progress: int
    entity: EntityRef
    steps: list[TaskStep]
    created_by: str
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    error: TaskError | None
    result: dict[str, Any] | None
    cancellable: bool
    owner: str | None = Field(
        default=None, description="the appliance process that runs (or ran) it"
    )
    attempts: int = 0


class TaskEventRead(ApiModel):
    at: Timestamp
    kind: str
    message: str
