from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response, status

from app.api.deps import AdminUser, CurrentUser, paged, provide
from app.core.pagination import PageParams
from app.core.principal import Role
from app.core.schemas import Page
from app.domain.users import repository
from app.domain.users.schemas import UserCreate, UserRead, UserUpdate
from app.domain.users.service import UserService

router = APIRouter(prefix="/users", tags=["users"])
UserServiceDep = Annotated[UserService, provide(UserService)]


@router.get("", response_model=Page[UserRead])
async def list_users(
    _admin: AdminUser,
    user_service: UserServiceDep,
    page: PageParams = paged(repository.SORTABLE),
    role: Role | None = None,
) -> Page[UserRead]:
    result = await user_service.page(page, role)
    return Page(items=[UserRead.model_validate(u) for u in result.items], meta=result.meta)


@router.post("", response_model=UserRead, status_code=status.HTTP_201_CREATED)
async def create_user(
    spec: UserCreate,
    admin: AdminUser,
    user_service: UserServiceDep,
) -> UserRead:
    return UserRead.model_validate(await user_service.create(spec, admin))


@router.get("/{user_id}", response_model=UserRead)
async def get_user(
    user_id: str,
    user: CurrentUser,
    user_service: UserServiceDep,
) -> UserRead:
    return UserRead.model_validate(await user_service.get(user_id, user))


@router.patch("/{user_id}", response_model=UserRead)
async def update_user(
    user_id: str,
    change: UserUpdate,
    user: CurrentUser,
    user_service: UserServiceDep,
) -> UserRead:
    updated = await user_service.update(user_id, change, user)
    return UserRead.model_validate(updated)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(
    user_id: str,
    admin: AdminUser,
    user_service: UserServiceDep,
) -> Response:
    await user_service.delete(user_id, admin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
