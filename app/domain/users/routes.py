from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.deps import AdminUser, CurrentUser, PlatformDep, SessionDep, paged
from app.core.pagination import PageParams
from app.core.principal import Role
from app.core.schemas import Page
from app.domain.users import repository
from app.domain.users.schemas import UserCreate, UserRead, UserUpdate
from app.domain.users.service import UserService

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=Page[UserRead])
async def list_users(
    _admin: AdminUser,
    session: SessionDep,
    platform: PlatformDep,
    page: PageParams = paged(repository.SORTABLE),
    role: Role | None = None,
) -> Page[UserRead]:
    result = await UserService(session, platform).page(page, role)
    return Page(items=[UserRead.model_validate(u) for u in result.items], meta=result.meta)


@router.post("", response_model=UserRead, status_code=status.HTTP_201_CREATED)
async def create_user(
    spec: UserCreate, admin: AdminUser, session: SessionDep, platform: PlatformDep
) -> UserRead:
    return UserRead.model_validate(await UserService(session, platform).create(spec, admin))


@router.get("/{user_id}", response_model=UserRead)
async def get_user(
    user_id: str, user: CurrentUser, session: SessionDep, platform: PlatformDep
) -> UserRead:
    return UserRead.model_validate(await UserService(session, platform).get(user_id, user))


@router.patch("/{user_id}", response_model=UserRead)
async def update_user(
    user_id: str,
    change: UserUpdate,
    user: CurrentUser,
    session: SessionDep,
    platform: PlatformDep,
) -> UserRead:
    updated = await UserService(session, platform).update(user_id, change, user)
    return UserRead.model_validate(updated)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(
    user_id: str, admin: AdminUser, session: SessionDep, platform: PlatformDep
) -> Response:
    await UserService(session, platform).delete(user_id, admin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
