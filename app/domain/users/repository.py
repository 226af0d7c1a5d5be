from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import PageParams, PageResult, paginate
from app.domain.users.models import User

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
