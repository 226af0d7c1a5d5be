"""Another appliance (the peer site), as this one reaches it over HTTPS."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class PeerEndpoint:
    url: str
    username: str
    password: str = field(repr=False)
    # SHA-256 of the peer's certificate (hex, colons allowed): trusted alone when given.
    certificate_sha256: str | None = None


@dataclass(frozen=True)
class PeerInfo:
    site_id: str
    site_name: str
    product: str
    version: str
    emulator: bool


class PeerError(Exception):
    error_code = "peer_unreachable"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PeerUnreachable(PeerError):
    error_code = "peer_unreachable"


class PeerAuthFailed(PeerError):
    error_code = "peer_auth_failed"


class PeerCertificateMismatch(PeerError):
    error_code = "peer_certificate_mismatch"


class NotAnAppliance(PeerError):
    error_code = "peer_not_an_appliance"


class PeerPort(Protocol):
    async def describe(self, peer: PeerEndpoint) -> PeerInfo:
        """Connect, authenticate and say which site the peer is."""
        ...
