"""Every error leaves the appliance in one envelope, with the request's `op_id`."""

from __future__ import annotations

import contextvars
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.errors import AppError, FieldError

logger = logging.getLogger(__name__)

op_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("op_id", default="")

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def envelope(
    status_code: int,
    error_code: str,
    message: str,
    *,
    details: list[Any] | None = None,
    field_errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    op_id = op_id_var.get()
    body = {
        "error_code": error_code,
        "message": message,
        "op_id": op_id,
        "details": details or [],
        "field_errors": [{"field": f.field, "message": f.message} for f in field_errors or []],
    }
    return JSONResponse(body, status_code=status_code, headers=headers)


def _field_name(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:] or parts
    return ".".join(parts)


async def _app_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, AppError)
    return error_response(error)


def error_response(error: AppError) -> JSONResponse:
    return envelope(
        error.status_code,
        error.error_code,
        error.message,
        details=error.details,
        field_errors=error.field_errors,
        headers=error.headers,
    )


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = error.errors()
    if any(problem.get("type") == "json_invalid" for problem in problems):
        return envelope(422, "malformed_json", "the request body is not valid JSON")
    fields = [
        FieldError(_field_name(problem.get("loc", ())), str(problem.get("msg", "invalid")))
        for problem in problems
    ]
    summary = "; ".join(f"{f.field}: {f.message}" for f in fields[:5])
    return envelope(422, "validation_error", f"invalid request: {summary}", field_errors=fields)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = _HTTP_CODES.get(error.status_code, "http_error")
    message = error.detail if isinstance(error.detail, str) else code.replace("_", " ")
    headers = dict(error.headers or {})
    if error.status_code == 405:
        allowed = allowed_methods(request, headers.get("Allow", ""))
        headers["Allow"] = allowed
        message = f"{request.method} is not allowed here; this resource allows {allowed}"
    return envelope(error.status_code, code, message, headers=headers)


def allowed_methods(request: Request, fallback: str) -> str:
    """The methods the OpenAPI document lists for this path (Starlette names only the first
    matching route's, while one path often has a route per method)."""
    root = str(request.scope.get("root_path", ""))
    path = request.url.path.removeprefix(root) or "/"
    for pattern, methods in _path_methods(request.app):
        if pattern.fullmatch(path):
            return ", ".join(methods)
    return fallback


def _path_methods(app: Any) -> list[tuple[re.Pattern[str], list[str]]]:
    cached: list[tuple[re.Pattern[str], list[str]]] | None = getattr(
        app.state, "path_methods", None
    )
    if cached is None:
        cached = []
        for template, operations in app.openapi().get("paths", {}).items():
            pattern = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template))
            methods = sorted(method.upper() for method in operations)
            cached.append((re.compile(pattern), methods))
        app.state.path_methods = cached
    return cached


async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error in op %s", op_id_var.get(), exc_info=error)
    return envelope(500, "internal_error", "the appliance hit an unexpected error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
