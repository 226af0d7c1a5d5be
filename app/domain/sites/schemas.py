from __future__ import annotations

from typing import Literal

from app.core.schemas import ApiModel, Timestamp


class SiteRead(ApiModel):
    id: str
    name: str
    role: Literal["local", "remote"]
    url: str | None
    reachable: bool | None
    created_at: Timestamp
