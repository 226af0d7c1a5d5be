"""Another appliance (the peer site), as this one reaches it over HTTPS."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


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


@dataclass(frozen=True)
class RemoteTask:
    id: str
    status: str
    result: dict[str, Any]
    error_code: str | None
    error_message: str | None


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


class PeerRefused(PeerError):
    """The peer understood the request and refused it (its error envelope's message)."""

    error_code = "peer_refused"


class PeerPort(Protocol):
    async def describe(self, peer: PeerEndpoint) -> PeerInfo:
        """Connect, authenticate and say which site the peer is."""
        ...

    async def release_domain(self, peer: PeerEndpoint, domain_id: str, to_site: str) -> str:
        """Ask the domain's owner to hand it over to `to_site`: it shuts the VMs down, ships
        what its log still holds and stops replicating. Returns the id of its task."""
        ...

    async def task(self, peer: PeerEndpoint, task_id: str) -> RemoteTask: ...
