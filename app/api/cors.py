"""CORS for the vCenter plugin UI: the registered vCenter's origin may call the API from a
browser. Other origins get no CORS headers, so browsers keep them out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from app.domain.platform import Platform

ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOWED_HEADERS = "authorization, content-type, idempotency-key, x-jetdr-session"
EXPOSED_HEADERS = "location, x-op-id, idempotent-replayed"


class VCenterCorsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = dict(scope.get("headers", [])).get(b"origin", b"").decode("latin-1")
        platform: Platform = scope["app"].state.platform
        if not origin or origin not in platform.state.cors_origins:
            await self.app(scope, receive, send)
            return
        common = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-credentials", b"true"),
            (b"vary", b"Origin"),
        ]
        headers = dict(scope.get("headers", []))
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        *common,
                        (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
                        (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
                        (b"access-control-max-age", b"600"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    *common,
                    (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_cors)
