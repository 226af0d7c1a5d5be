"""Sessions and HTTP Basic: who is calling, checked fast on every request.

Sessions are stored in SQL by token digest; this process keeps a cache of live sessions and of
recently verified Basic credentials so that authentication costs no password hash or query on
the hot path. Session lifetimes read the wall clock, not the virtual clock: advancing emulated
time must not log clients out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import VirtualClock
from app.core.db import SessionMaker
from app.core.errors import NotAuthenticated
from app.core.principal import Principal, Role
from app.core.security import new_session_token, token_digest, verify_password_off_loop
from app.domain.auth.throttle import LoginThrottle
from app.domain.events import service as events
from app.domain.users import repository as users
from app.domain.users.models import User, UserSession

TOUCH_INTERVAL = dt.timedelta(seconds=30)


@dataclass
class _LiveSession:
    principal: Principal
    expires_at: dt.datetime
    touched_at: dt.datetime


@dataclass
class AuthCache:
    idle_ttl: dt.timedelta
    basic_ttl: dt.timedelta
    throttle: LoginThrottle
    sessions: dict[str, _LiveSession] = field(default_factory=dict)
    basic: dict[str, tuple[Principal, dt.datetime]] = field(default_factory=dict)

    def forget_user(self, user_id: str) -> None:
        self.sessions = {
            digest: live
            for digest, live in self.sessions.items()
            if live.principal.user_id != user_id
        }
        self.basic = {
            key: entry for key, entry in self.basic.items() if entry[0].user_id != user_id
        }

    def release(self, username: str) -> None:
        self.throttle.release(username)

    def clear(self) -> None:
        self.sessions.clear()
        self.basic.clear()
        self.throttle.clear()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _principal(user: User, digest: str | None = None) -> Principal:
    return Principal(user.id, user.username, Role(user.role), digest)


class AuthService:
    def __init__(self, sessionmaker: SessionMaker, cache: AuthCache, clock: VirtualClock) -> None:
        self._sessionmaker = sessionmaker
        self._cache = cache
        self._clock = clock

    async def check_password(
        self,
        session: AsyncSession,
        username: str,
        password: str,
        *,
        address: str | None,
        via: str,
    ) -> User:
        """The user these credentials open, or 401; 429 while failed tries must wait."""
        self._cache.throttle.check(username, address)
        user = await users.by_username(session, username)
        # Hash even for unknown users so timing does not reveal which usernames exist.
        encoded = user.password_hash if user is not None else _DUMMY_HASH
        matches = await verify_password_off_loop(password, encoded)
        if not matches or user is None:
            self._cache.throttle.failed(username, address)
            await self._record_failure(session, username, user, address=address, via=via)
            raise NotAuthenticated("wrong username or password", error_code="invalid_credentials")
        self._cache.throttle.succeeded(username)
        return user

    async def _record_failure(
        self,
        session: AsyncSession,
        username: str,
        user: User | None,
        *,
        address: str | None,
        via: str,
    ) -> None:
        shown = username[:64]
        events.record(
            session,
            at=self._clock.now(),
            actor=shown,
            action="session.login_failed",
            message=f"failed login as {shown!r} from {address or 'an unknown address'} ({via})",
            # An event names an entity only when there is one: an unknown username is no user.
            entity=("user", user.id, user.username) if user else (None, None, None),
            details={"address": address, "via": via, "known_user": user is not None},
        )
        await session.commit()

    async def basic(self, username: str, password: str, address: str | None = None) -> Principal:
        key = hashlib.sha256(f"{username}\x00{password}".encode()).hexdigest()
        cached = self._cache.basic.get(key)
        now = _now()
        if cached is not None and cached[1] > now:
            return cached[0]
        async with self._sessionmaker() as session:
            user = await self.check_password(
                session, username, password, address=address, via="basic"
            )
        principal = _principal(user)
        if self._cache.basic_ttl.total_seconds() > 0:
            self._cache.basic[key] = (principal, now + self._cache.basic_ttl)
        return principal

    async def login(
        self, session: AsyncSession, username: str, password: str, address: str | None
    ) -> tuple[str, dt.datetime, User]:
        user = await self.check_password(
            session, username, password, address=address, via="session"
        )
        token = new_session_token()
        now = _now()
        expires_at = now + self._cache.idle_ttl
        digest = token_digest(token)
        session.add(
            UserSession(
                token_digest=digest,
                user_id=user.id,
                created_at=now,
                last_seen_at=now,
                expires_at=expires_at,
            )
        )
        await session.commit()
        self._cache.sessions[digest] = _LiveSession(_principal(user, digest), expires_at, now)
        return token, expires_at, user

    async def session_token(self, token: str) -> Principal:
        digest = token_digest(token)
        now = _now()
        live = self._cache.sessions.get(digest)
        if live is None:
            live = await self._load_session(digest)
        if live is None or live.expires_at <= now:
            self._cache.sessions.pop(digest, None)
            raise NotAuthenticated(
                "the session has expired or does not exist", error_code="session_expired"
            )
        live.expires_at = now + self._cache.idle_ttl
        if now - live.touched_at >= TOUCH_INTERVAL:
            live.touched_at = now
            async with self._sessionmaker() as session:
                row = await users.session_row(session, digest)
                if row is None:
                    self._cache.sessions.pop(digest, None)
                    raise NotAuthenticated(
                        "the session has been closed", error_code="session_expired"
                    )
                row.last_seen_at = now
                row.expires_at = live.expires_at
                await session.commit()
        return live.principal

    async def _load_session(self, digest: str) -> _LiveSession | None:
        async with self._sessionmaker() as session:
            row = await users.session_row(session, digest)
            if row is None:
                return None
            user = await users.get(session, row.user_id)
            if user is None:
                return None
            live = _LiveSession(_principal(user, digest), row.expires_at, row.last_seen_at)
        self._cache.sessions[digest] = live
        return live

    async def expires_at(self, digest: str) -> dt.datetime | None:
        live = self._cache.sessions.get(digest)
        return live.expires_at if live else None

    async def logout(self, session: AsyncSession, digest: str) -> bool:
        """Ends the session in the caller's transaction; False when it had already ended (of
        parallel logouts of one session, one ends it)."""
        ended = await users.end_session(session, digest)
        self._cache.sessions.pop(digest, None)
        return ended

    async def purge_expired(self, session: AsyncSession) -> int:
        purged = await users.purge_sessions(session, _now())
        await session.commit()
        return purged


# A well-formed hash of nothing anyone can type, checked when the username is unknown.
_DUMMY_HASH = "scrypt$16384$8$1$" + "A" * 22 + "==$" + "A" * 86 + "=="
