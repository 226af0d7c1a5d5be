"""The queries of users and their sessions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import PageParams, PageResult, paginate
from app.domain.users.models import User, UserSession

SORTABLE = {"username": User.username, "role": User.role, "created_at": User.created_at}


async def get(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def by_username(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username))


async def list_page(
    session: AsyncSession, params: PageParams, role: str | None
) -> PageResult[User]:
    query = select(User)
    if role is not None:
        query = query.where(User.role == role)
    return await paginate(session, query, params, SORTABLE, "username")


async def count_admins(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).where(User.role == "admin")) or 0)


async def session_row(session: AsyncSession, digest: str) -> UserSession | None:
    return await session.get(UserSession, digest)


async def end_session(session: AsyncSession, digest: str) -> bool:
    """False when the session had already ended (of parallel logouts, one ends it)."""
    result = await session.execute(delete(UserSession).where(UserSession.token_digest == digest))
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def end_sessions_of(
    session: AsyncSession, user_id: str, keep_digest: str | None = None
) -> None:
    query = delete(UserSession).where(UserSession.user_id == user_id)
    if keep_digest is not None:
        query = query.where(UserSession.token_digest != keep_digest)
    await session.execute(query)


async def purge_sessions(session: AsyncSession, before: dt.datetime) -> int:
    result = await session.execute(delete(UserSession).where(UserSession.expires_at <= before))
    return int(getattr(result, "rowcount", 0) or 0)
