"""The OpenAPI document tells what the appliance answers: every operation lists the error
statuses it can answer, each with the error envelope's schema, so a client generated from it
knows its errors as well as its successes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

ENVELOPE = "ErrorEnvelope"
ENVELOPE_REF = {"$ref": f"#/components/schemas/{ENVELOPE}"}

# Operations anyone may call (API.md's public routes); the rest answer 401 and 403 too.
PUBLIC = {
    ("get", "/api/v1/status"),
    ("get", "/api/v1/about"),
    ("get", "/plugin/plugin.json"),
    ("get", "/iofilter/{vib}"),
    ("get", "/health"),
    ("get", "/ui/"),
}
# Answered while the appliance starts, instead of 503 (`RequestContextMiddleware`).
ANSWERED_WHILE_STARTING = {"/api/v1/status", "/api/v1/about"}

DESCRIPTIONS = {
    400: "malformed request (a body that cannot be decoded, an `Idempotency-Key` out of bounds)",
    401: "not authenticated",
    403: "authenticated, but the role does not allow it",
    404: "no such resource",
    409: "not allowed in the current state, or a conflicting request",
    413: "the request body is larger than `JETDR_API__MAX_BODY_BYTES` (default 1 MiB)",
    415: "a request that changes state must be `application/json` or have no body",
    422: "invalid input: the field errors name each problem",
    429: "too many failed logins from this user or address: wait `Retry-After` seconds",
    500: "unexpected error (the op_id names it in the logs)",
    503: "the appliance is starting or degraded",
}


class FieldErrorBody(BaseModel):
    field: str
    message: str


class ErrorEnvelope(BaseModel):
    """Every 4xx and 5xx answer."""

    error_code: str
    message: str
    op_id: str
    details: list[Any]
    field_errors: list[FieldErrorBody]


def error_statuses(method: str, path: str, operation: dict[str, Any]) -> list[int]:
    statuses = {500}
    public = (method, path) in PUBLIC
    if not public:
        statuses |= {401, 403, 429}
    if method == "post" and path == "/api/v1/session":
        statuses -= {403}
    if method in ("post", "put", "patch", "delete"):
        statuses |= {413, 415}
    if path.startswith("/api/") and path not in ANSWERED_WHILE_STARTING:
        statuses.add(503)
    if "{" in path:
        statuses.add(404)
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.add(422)
    if operation.get("requestBody"):
        statuses.add(400)  # a body that is not even text
    if method == "post":
        statuses |= {400, 409, 422}
    if method in ("put", "patch", "delete"):
        statuses.add(409)
    return sorted(statuses)


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    envelope = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(envelope.pop("$defs", {}))
    components[ENVELOPE] = envelope
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            statuses = error_statuses(method, path, operation)
            # A router's blanket error descriptions hold only where the operation can answer so.
            for code in [c for c in responses if c[0] in "45" and "content" not in responses[c]]:
                if int(code) not in statuses:
                    del responses[code]
            for status in statuses:
                responses[str(status)] = {
                    "description": DESCRIPTIONS[status],
                    "content": {"application/json": {"schema": ENVELOPE_REF}},
                }
    # FastAPI's own 422 body is never what the appliance answers.
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def install_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return openapi
