"""The application error tree, rendered by `app.api.errors` as the API's error envelope.

AppError(status_code, error_code)
├── BadRequest            400 bad_request
├── ValidationFailed      422 validation_error  (field_errors)
├── NotAuthenticated      401 not_authenticated
├── Forbidden             403 forbidden
├── NotFound              404 not_found
├── Conflict              409 conflict
│   └── InvalidState      409 invalid_state     (details carry the current state)
└── ServiceUnavailable    503 unavailable
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class AppError(Exception):
    status_code = 500
    error_code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        error_code: str | None = None,
        details: list[Any] | None = None,
        field_errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code
        self.details = details or []
        self.field_errors = field_errors or []
        self.headers = headers or {}


class BadRequest(AppError):
    status_code = 400
    error_code = "bad_request"


class ValidationFailed(AppError):
    status_code = 422
    error_code = "validation_error"


class NotAuthenticated(AppError):
    status_code = 401
    error_code = "not_authenticated"

    def __init__(self, message: str = "authentication required", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Basic realm="jetdr-msa"'})
        super().__init__(message, **kwargs)


class Forbidden(AppError):
    status_code = 403
    error_code = "forbidden"


class NotFound(AppError):
    status_code = 404
    error_code = "not_found"


class Conflict(AppError):
    status_code = 409
    error_code = "conflict"


class InvalidState(Conflict):
    error_code = "invalid_state"

    def __init__(self, message: str, *, entity: str, state: str, **kwargs: Any) -> None:
        kwargs.setdefault("details", [{"entity": entity, "state": state}])
        super().__init__(message, **kwargs)


class ServiceUnavailable(AppError):
    status_code = 503
    error_code = "unavailable"


class TaskFailed(Exception):
    """Raised by a step: the task ends `failed` with this error code and message."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message
