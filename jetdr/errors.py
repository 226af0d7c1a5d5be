"""Errors the client raises: the appliance's error envelope, as an exception."""

from __future__ import annotations

from typing import Any


class JetdrError(Exception):
    """A 4xx/5xx answer: `error_code` and `message` come from the envelope, `op_id` names the
    request in the appliance's logs."""

    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        *,
        op_id: str | None = None,
        details: list[Any] | None = None,
        field_errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.op_id = op_id
        self.details = details or []
        self.field_errors = field_errors or []


class TaskFailedError(JetdrError):
    """A task the client waited on ended `failed` or `cancelled`."""

    def __init__(self, task: Any) -> None:
        error = task.error
        super().__init__(
            409,
            error.error_code if error else task.status,
            error.message if error else f"task {task.id} was {task.status}",
        )
        self.task = task


class TaskTimeout(JetdrError):
    def __init__(self, task: Any, seconds: float) -> None:
        super().__init__(
            408, "task_timeout", f"task {task.id} still {task.status} after {seconds} s"
        )
        self.task = task
