from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from app.core.schemas import ApiModel, RequestModel, Timestamp


class PeerCreate(RequestModel):
    """Another appliance this one can reach for planned operations. It is identified by the id
    it gives its own site; `name` is a label here (the peer's own site name when omitted)."""

    name: str | None = Field(default=None, min_length=1, max_length=128)
    url: str = Field(pattern=r"^https://[A-Za-z0-9.\-\[\]:]+(:[0-9]{1,5})?/?$", max_length=512)
    username: str = Field(min_length=1, max_length=128)
    password: SecretStr = Field(min_length=1, max_length=512)
    certificate_sha256: str | None = Field(
        default=None,
        pattern=r"^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$",
        description="pin the peer's certificate (a self-signed one, for instance)",
    )

    @field_validator("url")
    @classmethod
    def _host_and_port_parse(cls, value: str) -> str:
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError as error:
            raise ValueError(f"not a usable URL: {error}") from error
        if not parts.hostname or (port is not None and not 0 < port < 65536):
            raise ValueError("the URL needs a host name and a port between 1 and 65535")
        if any(len(label) > 63 for label in parts.hostname.split(".")):
            raise ValueError("a host name label is longer than 63 characters")
        return value


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
