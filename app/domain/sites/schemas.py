from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from app.core.schemas import ApiModel, RequestModel, Timestamp


class PeerCreate(RequestModel):
    """Another appliance this one can reach for planned operations. Its name is the name the
    peer gives its own site."""

    url: str = Field(pattern=r"^https://[A-Za-z0-9.\-\[\]:]+(:[0-9]{1,5})?/?$", max_length=512)
    username: str = Field(min_length=1, max_length=128)
    password: SecretStr = Field(min_length=1, max_length=512)
    certificate_sha256: str | None = Field(
        default=None,
        pattern=r"^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$",
        description="pin the peer's certificate (a self-signed one, for instance)",
    )


class SiteRead(ApiModel):
    id: str
    name: str
    role: Literal["local", "remote"]
    url: str | None
    username: str | None
    certificate_sha256: str | None
    peer_site_id: str | None
    reachable: bool | None
    last_checked_at: Timestamp | None
    last_error: str | None
    created_at: Timestamp
