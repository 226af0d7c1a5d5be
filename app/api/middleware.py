"""Pure ASGI middleware: request ids, the start-up gate, and `Idempotency-Key` replays."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.deps import INITIALIZING, principal_of
from app.api.errors import envelope, op_id_var
from app.api.guard import read_body, replay
from app.api.headers import security_headers
from app.api.models import IdempotencyRecord
from app.api.observer import JournalEntry, RequestObserver
from app.core.errors import AppError

if TYPE_CHECKING:
    from app.domain.platform import Platform

logger = logging.getLogger(__name__)

PUBLIC_WHILE_STARTING = {"/api/v1/status", "/api/v1/about"}
IDEMPOTENCY_WINDOW = dt.timedelta(hours=24)
REPLAYED_HEADERS = {b"content-type", b"location"}


def _platform(scope: Scope) -> Platform:
    platform: Platform = scope["app"].state.platform
    return platform


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
        path: str = scope["path"]
        platform = _platform(scope)
        added = [(b"x-op-id", op_id.encode()), *security_headers(path, platform)]
        started = False
        status = 500
        began = time.perf_counter()

        async def send_with_op_id(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), *added]
            await send(message)

        try:
            if _carries_nul(scope):
                response = envelope(
                    422,
                    "validation_error",
                    "a NUL character is not allowed in a path or query value",
                )
                await response(scope, receive, send_with_op_id)
                return
            if (
                path.startswith("/api/")
                and path not in PUBLIC_WHILE_STARTING
                and platform.state.status != "ready"
                and not INITIALIZING.get()
            ):
                response = envelope(
                    503,
                    "starting" if platform.state.status == "starting" else "unavailable",
                    platform.state.status_reason or "the appliance is starting",
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


def _carries_nul(scope: Scope) -> bool:
    """No stored text may hold NUL (PostgreSQL refuses it): a path or query value with one is
    refused here, before any route could carry it into SQL."""
    query = unquote_to_bytes(scope.get("query_string", b""))
    return "\x00" in str(scope["path"]) or b"\x00" in query


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
    _platform(scope).worker(RequestObserver).record(
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


# Routes whose answers are never stored: the session's answer carries its token.
NOT_IDEMPOTENT = frozenset({"/api/v1/session"})
# How long a pending record of another, live process blocks its key (wall clock).
PENDING_LIMIT = dt.timedelta(minutes=10)


class IdempotencyMiddleware:
    """A POST replayed with the same `Idempotency-Key` by the same user within 24 h gets the
    original answer. The answer is stored before it is sent, so an immediate retry replays it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_headers = dict(scope.get("headers", [])) if scope["type"] == "http" else {}
        key_header = raw_headers.get(b"idempotency-key")
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or key_header is None
            or scope["path"] in NOT_IDEMPOTENT
        ):
            await self.app(scope, receive, send)
            return
        key = key_header.decode("latin-1").strip()
        if not key or len(key) > 255:
            await envelope(400, "bad_request", "Idempotency-Key must be 1 to 255 characters")(
                scope, receive, send
            )
            return
        platform = _platform(scope)
        principal = await _user_of(platform, scope)
        if principal is None:
            # Not authenticated: the route answers 401, and nothing is stored.
            await self.app(scope, receive, send)
            return
        # Bounded: the guard has refused a larger body before this layer.
        body = await read_body(receive, platform.settings.api.max_body_bytes)
        fingerprint = hashlib.sha256(
            b"\n".join([scope["path"].encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        claim = await _claim(platform, principal, key, fingerprint)
        if isinstance(claim, IdempotencyRecord):
            await _answer_existing(claim, fingerprint, scope, receive, send)
            return
        if claim is _BUSY:
            await envelope(
                409, "idempotency_in_progress", "a request with this key is still running"
            )(scope, receive, send)
            return

        start: Message = {"type": "http.response.start", "status": 500, "headers": []}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        in_flight = (principal, key)
        platform.state.idempotency_in_flight.add(in_flight)
        try:
            try:
                await self.app(scope, replay(body, receive), capture)
            except BaseException:
                await _forget(platform, principal, key)
                raise
            await _store(platform, principal, key, int(start["status"]), start, chunks)
        finally:
            platform.state.idempotency_in_flight.discard(in_flight)
        await send(start)
        await send({"type": "http.response.body", "body": b"".join(chunks)})


class _Busy:
    pass


_BUSY = _Busy()
_CLAIMED = object()


def _owner(platform: Platform) -> str:
    return f"{platform.state.node_id}/{platform.state.incarnation}"


async def _user_of(platform: Platform, scope: Scope) -> str | None:
    try:
        principal = await principal_of(scope, platform)
    except AppError:
        return None
    return principal.user_id


def _abandoned(platform: Platform, record: IdempotencyRecord) -> bool:
    """A pending record whose request can no longer answer: its process ended (a restart of
    this node, or this process no longer running it), or another process has held it too long."""
    owner = record.owner or ""
    node, _, _incarnation = owner.rpartition("/")
    if owner == _owner(platform):
        return (record.principal, record.key) not in platform.state.idempotency_in_flight
    if node == platform.state.node_id or not owner:
        return True
    claimed = record.claimed_at or record.created_at
    return claimed < dt.datetime.now(dt.UTC) - PENDING_LIMIT


async def _claim(
    platform: Platform, principal: str, key: str, fingerprint: str
) -> IdempotencyRecord | _Busy | object:
    """Takes the key for this request (`_CLAIMED`), or says why not: the stored answer (a
    record), or `_BUSY` while another request with the key is still being answered."""
    now = platform.clock.now()
    mine: dict[str, Any] = {
        "fingerprint": fingerprint,
        "state": "pending",
        "status_code": None,
        "headers": [],
        "body": None,
        "created_at": now,
        "owner": _owner(platform),
        "claimed_at": dt.datetime.now(dt.UTC),
    }
    async with platform.sessionmaker() as session:
        record = await session.get(IdempotencyRecord, (principal, key))
        if record is None:
            session.add(IdempotencyRecord(principal=principal, key=key, **mine))
            try:
                await session.commit()
            except IntegrityError:
                return _BUSY
            return _CLAIMED
        expired = record.created_at < now - IDEMPOTENCY_WINDOW
        if record.state == "done" and not expired:
            return record
        if record.state != "done" and not expired and not _abandoned(platform, record):
            return record if record.fingerprint != fingerprint else _BUSY
        # Expired, or left pending by a request that is gone: take it over, unless another
        # request took it first (the update is conditional on what was read).
        taken = await session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.principal == principal,
                IdempotencyRecord.key == key,
                IdempotencyRecord.state == record.state,
                IdempotencyRecord.created_at == record.created_at,
                IdempotencyRecord.owner.is_(None)
                if record.owner is None
                else IdempotencyRecord.owner == record.owner,
            )
            .values(**mine)
        )
        await session.commit()
        return _CLAIMED if _rowcount(taken) == 1 else _BUSY


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def _answer_existing(
    record: IdempotencyRecord, fingerprint: str, scope: Scope, receive: Receive, send: Send
) -> None:
    if record.fingerprint != fingerprint:
        response = envelope(
            422, "idempotency_key_reused", "this Idempotency-Key was used for a different request"
        )
    elif record.state != "done":
        response = envelope(
            409, "idempotency_in_progress", "a request with this key is still running"
        )
    else:
        stored = [(bytes.fromhex(k), bytes.fromhex(v)) for k, v in record.headers]
        raw_headers = [*stored, (b"idempotent-replayed", b"true")]
        await send(
            {"type": "http.response.start", "status": record.status_code, "headers": raw_headers}
        )
        await send({"type": "http.response.body", "body": (record.body or "").encode()})
        return
    await response(scope, receive, send)


async def _forget(platform: Platform, principal: str, key: str) -> None:
    async with platform.sessionmaker() as session:
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.principal == principal,
                IdempotencyRecord.key == key,
                IdempotencyRecord.owner == _owner(platform),
            )
        )
        await session.commit()


async def _store(
    platform: Platform,
    principal: str,
    key: str,
    status: int,
    start: Message,
    chunks: list[bytes],
) -> None:
    """Keeps the answer for replays; errors of the server or of the credentials are not kept
    (a retry should run again)."""
    if status >= 500 or status in {401, 403, 429}:
        await _forget(platform, principal, key)
        return
    async with platform.sessionmaker() as session:
        await session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.principal == principal,
                IdempotencyRecord.key == key,
                IdempotencyRecord.owner == _owner(platform),
            )
            .values(
                state="done",
                status_code=status,
                headers=[
                    [name.hex(), value.hex()]
                    for name, value in start.get("headers", [])
                    if name.lower() in REPLAYED_HEADERS
                ],
                body=b"".join(chunks).decode(),
            )
        )
        await session.commit()


__all__ = ["IdempotencyMiddleware", "IdempotencyRecord", "RequestContextMiddleware"]
