from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import commit_unique, delete_once
from app.core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from app.core.ids import new_id
from app.core.pagination import PageParams, PageResult
from app.core.principal import Principal, Role
from app.core.security import hash_password_off_loop, verify_password_off_loop
from app.domain.events import service as events
from app.domain.platform import Platform
from app.domain.users import repository
from app.domain.users.credentials import CREDENTIAL_CACHE
from app.domain.users.models import User
from app.domain.users.schemas import UserCreate, UserUpdate


class UserService:
    def __init__(self, session: AsyncSession, platform: Platform) -> None:
        self.session = session
        self.platform = platform

    async def page(self, params: PageParams, role: Role | None) -> PageResult[User]:
        return await repository.list_page(self.session, params, role.value if role else None)

    async def get(self, user_id: str, actor: Principal) -> User:
        if actor.role is not Role.ADMIN and actor.user_id != user_id:
            raise Forbidden("only an admin can read other users")
        user = await repository.get(self.session, user_id)
        if user is None:
            raise NotFound(f"user {user_id} does not exist")
        return user

    async def create(self, spec: UserCreate, actor: Principal) -> User:
        if await repository.by_username(self.session, spec.username) is not None:
            raise Conflict(f"user {spec.username!r} already exists", error_code="already_exists")
        now = self.platform.clock.now()
        user = User(
            id=new_id("user"),
            username=spec.username,
            role=spec.role.value,
            password_hash=await hash_password_off_loop(spec.password.get_secret_value()),
            description=spec.description,
            is_builtin=False,
            created_at=now,
            updated_at=now,
        )
        self.session.add(user)
        events.record(
            self.session,
            at=now,
            actor=actor.username,
            action="user.created",
            message=f"user {user.username} created with role {user.role}",
            entity=("user", user.id, user.username),
        )
        await commit_unique(
            self.session,
            Conflict(f"user {spec.username!r} already exists", error_code="already_exists"),
        )
        return user

    async def _check_current_password(self, user: User, change: UserUpdate) -> None:
        given = change.current_password.get_secret_value() if change.current_password else None
        if given is None or not await verify_password_off_loop(given, user.password_hash):
            raise ValidationFailed(
                "changing your own password needs your current password",
                error_code="current_password_required",
                field_errors=[FieldError("current_password", "missing or wrong")],
            )

    async def update(self, user_id: str, change: UserUpdate, actor: Principal) -> User:
        user = await self.get(user_id, actor)
        if change.role is not None and change.role.value != user.role:
            if actor.role is not Role.ADMIN:
                raise Forbidden("only an admin can change roles")
            if user.is_builtin:
                raise Conflict("the built-in root user always keeps the admin role")
            if user.role == Role.ADMIN.value and await repository.count_admins(self.session) <= 1:
                raise Conflict("the last admin cannot be demoted")
            user.role = change.role.value
        if change.password is not None:
            if user.id == actor.user_id:
                await self._check_current_password(user, change)
            user.password_hash = await hash_password_off_loop(change.password.get_secret_value())
            # A new password ends every session opened with the old one but the caller's own.
            await repository.end_sessions_of(
                self.session, user.id, keep_digest=actor.session_digest or ""
            )
        if change.description is not None:
            user.description = change.description
        now = self.platform.clock.now()
        user.updated_at = now
        changed = sorted(change.model_fields_set)
        events.record(
            self.session,
            at=now,
            actor=actor.username,
            action="user.updated",
            message=f"user {user.username} changed: {', '.join(changed)}",
            entity=("user", user.id, user.username),
            details={"fields": changed},
        )
        await self.session.commit()
        self.platform.worker(CREDENTIAL_CACHE).forget_user(user.id)
        if change.password is not None:
            self.platform.worker(CREDENTIAL_CACHE).release(user.username)
        return user

    async def delete(self, user_id: str, actor: Principal) -> None:
        user = await self.get(user_id, actor)
        if user.is_builtin:
            raise Conflict("the built-in root user cannot be deleted")
        if user.id == actor.user_id:
            raise Conflict("you cannot delete the user you are logged in as")
        if not await delete_once(self.session, user):
            raise NotFound(f"user {user_id} does not exist")
        events.record(
            self.session,
            at=self.platform.clock.now(),
            actor=actor.username,
            action="user.deleted",
            message=f"user {user.username} deleted",
            entity=("user", user.id, user.username),
        )
        await self.session.commit()
        self.platform.worker(CREDENTIAL_CACHE).forget_user(user.id)
