"""Who acts: the authenticated user every service call is made for, and the roles."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.core.errors import Forbidden


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


ROLE_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class Principal:
    user_id: str
    username: str
    role: Role
    session_digest: str | None = None

    def require(self, role: Role) -> None:
        if ROLE_RANK[self.role] < ROLE_RANK[role]:
            raise Forbidden(
                f"this action needs the {role.value} role; {self.username} is {self.role.value}"
            )
