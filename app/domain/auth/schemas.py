from __future__ import annotations

from pydantic import Field, SecretStr

from app.core.schemas import ApiModel, RequestModel, Timestamp
from app.domain.users.schemas import UserRead


class Credentials(RequestModel):
    username: str = Field(min_length=1, max_length=128)
    password: SecretStr = Field(min_length=1, max_length=256)


class SessionRead(ApiModel):
    session_id: str | None
    expires_at: Timestamp | None
    user: UserRead
