from __future__ import annotations

from pydantic import Field, SecretStr

from app.core.principal import Role
from app.core.schemas import ApiModel, RequestModel, Timestamp

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$"


class UserRead(ApiModel):
    id: str
    username: str
    role: Role
    description: str
    builtin: bool = Field(validation_alias="is_builtin")
    created_at: Timestamp
    updated_at: Timestamp


class UserCreate(RequestModel):
    username: str = Field(pattern=USERNAME_PATTERN)
    role: Role
    password: SecretStr = Field(min_length=8, max_length=256)
    description: str = Field(default="", max_length=512)


class UserUpdate(RequestModel):
    role: Role | None = None
    password: SecretStr | None = Field(default=None, min_length=8, max_length=256)
    current_password: SecretStr | None = Field(
        default=None,
        max_length=256,
        description="required to change one's own password; the user's other sessions end",
    )
    description: str | None = Field(default=None, max_length=512)
