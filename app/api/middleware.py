"""Pure ASGI middleware: request ids, the start-up gate, and `Idempotency-Key` replays."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, Text, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import envelope, op_id_var
from app.core.db import Base
from app.emulator.init import INITIALIZING
from app.metrics.requests import JournalEntry

if TYPE_CHECKING:
    from app.container import Container

logger = logging.getLogger(__name__)

PUBLIC_WHILE_STARTING = {"/api/v1/status", "/api/v1/about"}
IDEMPOTENCY_WINDOW = dt.timedelta(hours=24)
REPLAYED_HEADERS = {b"content-type", b"location"}


def _container(scope: Scope) -> Container:
    container: Container = scope["app"].state.container
    return container


class RequestContextMiddleware:
    """Gives every request an `op_id` (echoed in `x-op-id`) and holds the API while starting."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        op_id = f"op-{secrets.token_hex(8)}"
        token = op_id_var.set(op_id)
        header = (b"x-op-id", op_id.encode())
        started = False
        status = 500
        began = time.perf_counter()

        async def send_with_op_id(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            path: str = scope["path"]
            container = _container(scope)
            if (
                path.startswith("/api/")
                and path not in PUBLIC_WHILE_STARTING
                and container.status != "ready"
                and not INITIALIZING.get()
            ):
                response = envelope(
                    503,
                    "starting" if container.status == "starting" else "unavailable",
                    container.status_reason or "the appliance is starting",
                    headers={"Retry-After": "1"},
                )
                await response(scope, receive, send_with_op_id)
                return
            await self.app(scope, receive, send_with_op_id)
        except Exception:
            logger.exception(
                "unhandled error in %s %s (op %s)", scope["method"], scope["path"], op_id
            )
            if started:
                raise
            response = envelope(500, "internal_error", "the appliance hit an unexpected error")
            await response(scope, receive, send_with_op_id)
        finally:
            op_id_var.reset(token)
            _observe(scope, status, time.perf_counter() - began, op_id)


def route_template(path: str, route_path: str | None) -> str:
    """The matched route as a template (`/api/v1/vcenters/{vcenter_id}`): routers included
    with a prefix report their own path only, so the prefix is taken from the request's path
    (path parameters are single segments here)."""
    if route_path is None:
        return "unmatched"
    parts = [part for part in path.split("/") if part]
    own = [part for part in route_path.split("/") if part]
    prefix = parts[: max(len(parts) - len(own), 0)]
    return "/" + "/".join([*prefix, *own])


def _observe(scope: Scope, status: int, seconds: float, op_id: str) -> None:
    path = str(scope["path"])
    template = route_template(path, getattr(scope.get("route"), "path", None))
    _container(scope).observer.record(
        JournalEntry(
            at=dt.datetime.now(dt.UTC),
            method=str(scope["method"]),
            path=path,
            query=scope.get("query_string", b"").decode("latin-1")[:512],
            route=str(template),
            status=status,
            duration_ms=round(seconds * 1000, 3),
            op_id=op_id,
        )
    )


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_record"

    principal: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None]
    headers: Mapped[list[Any]] = mapped_column(default=list)
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]


class IdempotencyMiddleware:
    """A POST replayed with the same `Idempotency-Key` within 24 h gets the original answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", [])) if scope["type"] == "http" else {}
        key_header = headers.get(b"idempotency-key")
        if scope["type"] != "http" or scope["method"] != "POST" or key_header is None:
            await self.app(scope, receive, send)
            return
        key = key_header.decode("latin-1").strip()
        if not key or len(key) > 255:
            await envelope(400, "bad_request", "Idempotency-Key must be 1 to 255 characters")(
                scope, receive, send
            )
            return
        body = await _read_body(receive)
        credential = (
            headers.get(b"authorization", b"") + b"|" + headers.get(b"x-jetdr-session", b"")
        )
        principal = hashlib.sha256(credential).hexdigest()
        fingerprint = hashlib.sha256(
            b"\n".join([scope["path"].encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        container = _container(scope)
        now = container.clock.now()
        async with container.sessionmaker() as session:
            record = await session.get(IdempotencyRecord, (principal, key))
            if record is not None and record.created_at < now - IDEMPOTENCY_WINDOW:
                await session.delete(record)
                await session.flush()
                record = None
            if record is not None:
                await self._answer_existing(record, fingerprint, scope, receive, send)
                return
            session.add(
                IdempotencyRecord(
                    principal=principal,
                    key=key,
                    fingerprint=fingerprint,
                    state="pending",
                    created_at=now,
                )
            )
            try:
                await session.commit()
            except IntegrityError:
                await envelope(
                    409, "idempotency_in_progress", "a request with this key is still running"
                )(scope, receive, send)
                return

        captured: dict[str, Any] = {"status": 500, "headers": [], "body": []}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
            await send(message)

        replayed = False

        async def replay_body() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        try:
            await self.app(scope, replay_body, capture)
        finally:
            await self._store(container, principal, key, captured)

    async def _answer_existing(
        self,
        record: IdempotencyRecord,
        fingerprint: str,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        if record.fingerprint != fingerprint:
            response = envelope(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request",
            )
        elif record.state != "done":
            response = envelope(
                409, "idempotency_in_progress", "a request with this key is still running"
            )
        else:
            stored = [(bytes.fromhex(k), bytes.fromhex(v)) for k, v in record.headers]
            raw_headers = [*stored, (b"idempotent-replayed", b"true")]
            await send(
                {
                    "type": "http.response.start",
                    "status": record.status_code,
                    "headers": raw_headers,
                }
            )
            await send({"type": "http.response.body", "body": (record.body or "").encode()})
            return
        await response(scope, receive, send)

    async def _store(
        self, container: Container, principal: str, key: str, captured: dict[str, Any]
    ) -> None:
        status = int(captured["status"])
        async with container.sessionmaker() as session:
            if status >= 500 or status in {401, 403, 429}:
                await session.execute(
                    delete(IdempotencyRecord).where(
                        IdempotencyRecord.principal == principal, IdempotencyRecord.key == key
                    )
                )
            else:
                record = await session.get(IdempotencyRecord, (principal, key))
                if record is None:
                    return
                record.state = "done"
                record.status_code = status
                record.headers = [
                    [name.hex(), value.hex()]
                    for name, value in captured["headers"]
                    if name.lower() in REPLAYED_HEADERS
                ]
                record.body = b"".join(captured["body"]).decode()
            await session.commit()


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


__all__ = ["IdempotencyMiddleware", "IdempotencyRecord", "RequestContextMiddleware"]
