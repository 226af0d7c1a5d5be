from __future__ import annotations

from typing import Any

from fastapi import Response

from app.tasks.models import Task
from app.tasks.schemas import TaskRead
from app.tasks.service import to_read

ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "the task that does the work; poll its Location"},
}


def accepted(response: Response, task: Task) -> TaskRead:
    """A 202 answer: the task body, with `Location` pointing at it."""
    response.status_code = 202
    response.headers["Location"] = f"/api/v1/tasks/{task.id}"
    return to_read(task)
