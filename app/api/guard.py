"""The edge's refusals, made before a route reads a byte of the body.

- A body larger than `JETDR_API__MAX_BODY_BYTES` is 413: from `Content-Length` before reading,
  or while reading a chunked body (which is read here, up to the limit, then handed on).
- A state-changing request (POST, PUT, PATCH, DELETE) is JSON or carries nothing: any other
  media type, or a body without one, is 415. An HTML form can send only form and text types,
  so a form on another site cannot drive the appliance.
- A request with a body is authenticated before the body is read (but logging in), so a
  client without credentials cannot make the appliance take in a megabyte.
- A state-changing request authenticated by HTTP Basic from a browser page (it carries an
  `Origin`) must come from the appliance's own origin or the registered vCenter's: a browser
  resends cached Basic credentials to any site's requests, so they prove nothing on their own.
  A session token cannot be sent cross-site without the appliance's CORS consent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.deps import principal_of
from app.api.errors import envelope, error_response
from app.core.errors import AppError

if TYPE_CHECKING:
    from app.domain.platform import Platform

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Requests whose body is read without credentials: logging in sends them in the body.
OPEN_WITH_BODY = frozenset({("POST", "/api/v1/session")})


def is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class RequestGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        platform: Platform = scope["app"].state.platform
        limit = platform.settings.api.max_body_bytes
        headers = Headers(scope=scope)
        method = str(scope["method"])
        declared = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if declared is not None and not declared.isdigit():
            await _refuse(400, "bad_request", "Content-Length is not a number", scope, send)
            return
        has_body = chunked or (declared is not None and int(declared) > 0)

        if method in STATE_CHANGING:
            content_type = headers.get("content-type")
            if (content_type is not None or has_body) and not is_json(content_type or ""):
                await _refuse(
                    415,
                    "unsupported_media_type",
                    "a request that changes state is application/json, or has no body and no "
                    "Content-Type",
                    scope,
                    send,
                )
                return

        try:
            if declared is not None and int(declared) > limit:
                raise BodyTooLarge(limit)
            if has_body and (method, scope["path"]) not in OPEN_WITH_BODY:
                await principal_of(scope, platform)
            if method in STATE_CHANGING and "origin" in headers:
                await _check_origin(scope, headers, platform)
            if chunked and declared is None:
                receive = replay(await read_body(receive, limit), receive)
        except AppError as error:
            await error_response(error)(scope, _no_body, send)
            return
        crash = platform.faults.api_crash(str(scope["path"]))
        if crash is not None:
            raise InjectedCrash(f"api_crash fault {crash.id} on {scope['path']}")
        await self.app(scope, receive, send)


class InjectedCrash(RuntimeError):
    """An `api_crash` fault: the request fails as an unexpected error would."""


async def _check_origin(scope: Scope, headers: Headers, platform: Platform) -> None:
    authorization = headers.get("authorization", "")
    if authorization[:6].lower() != "basic " or "x-jetdr-session" in headers:
        return
    principal = await principal_of(scope, platform)
    if principal.session_digest is not None:
        return
    origin = headers["origin"]
    own = f"{scope.get('scheme', 'https')}://{headers.get('host', '')}"
    if origin != own and origin not in platform.state.cors_origins:
        raise CrossOriginRefused(
            f"a request from {origin[:200]} cannot change this appliance with HTTP Basic "
            "credentials: log in for a session, or call from the appliance's own pages or "
            "the registered vCenter's"
        )


class CrossOriginRefused(AppError):
    status_code = 403
    error_code = "cross_origin_refused"


class BodyTooLarge(AppError):
    status_code = 413
    error_code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        # The connection closes after the answer: the rest of the body is never read.
        super().__init__(
            f"the request body is larger than this appliance takes ({limit} bytes)",
            headers={"Connection": "close"},
        )


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body; `BodyTooLarge` once it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app this body, already read, then goes on as `receive`."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _refuse(status: int, code: str, message: str, scope: Scope, send: Send) -> None:
    await envelope(status, code, message)(scope, _no_body, send)
