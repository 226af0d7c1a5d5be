"""What the user service asks of the authentication layer (above it) when credentials change:
forget what it cached of a user, and release a throttled username."""

from __future__ import annotations

from typing import Protocol

from app.domain.platform import WorkerKey


class CredentialCache(Protocol):
    def forget_user(self, user_id: str) -> None: ...

    def release(self, username: str) -> None: ...


CREDENTIAL_CACHE: WorkerKey[CredentialCache] = WorkerKey("credential cache")
