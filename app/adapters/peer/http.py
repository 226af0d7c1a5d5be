"""The peer appliance over its REST API (httpx)."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.adapters.peer.port import (
    NotAnAppliance,
    PeerAuthFailed,
    PeerCertificateMismatch,
    PeerEndpoint,
    PeerInfo,
    PeerRefused,
    PeerUnreachable,
    RemoteTask,
)

PRODUCT = "JetStream DR"
TIMEOUT = 10.0


def _pinned_context(host: str, port: int, pin: str) -> ssl.SSLContext:
    """A context that trusts exactly the certificate whose SHA-256 is `pin`."""
    try:
        pem = ssl.get_server_certificate((host, port), timeout=TIMEOUT)
    except (OSError, UnicodeError, ValueError) as error:  # a host name that cannot even resolve
        raise PeerUnreachable(f"cannot reach {host}:{port}: {error}") from error
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
    if digest != pin.replace(":", "").lower():
        raise PeerCertificateMismatch(
            f"the certificate of {host}:{port} has SHA-256 {digest}, not the pinned one"
        )
    context = ssl.create_default_context(cadata=pem)
    # The pin names the certificate; whichever name the URL uses, this is the peer.
    context.check_hostname = False
    return context


class HttpPeerClient:
    async def _context(self, peer: PeerEndpoint) -> ssl.SSLContext | bool:
        if not peer.certificate_sha256:
            return True
        parts = urlsplit(peer.url)
        host, port = parts.hostname or "", parts.port or 443
        return await asyncio.to_thread(_pinned_context, host, port, peer.certificate_sha256)

    async def _get(self, client: httpx.AsyncClient, path: str) -> Any:
        try:
            response = await client.get(path)
        except (httpx.HTTPError, httpx.InvalidURL, UnicodeError) as error:
            if "CERTIFICATE_VERIFY_FAILED" in str(error):
                raise PeerCertificateMismatch(
                    "the peer's certificate is not trusted: pin it with certificate_sha256"
                ) from error
            raise PeerUnreachable(f"cannot reach the peer: {error}") from error
        if response.status_code in (401, 403):
            raise PeerAuthFailed("the peer refused the credentials")
        if response.status_code != 200:
            raise NotAnAppliance(f"GET {path} answered {response.status_code}")
        try:
            return response.json()
        except ValueError as error:
            raise NotAnAppliance(f"GET {path} did not answer JSON") from error

    async def _client(self, peer: PeerEndpoint) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=peer.url.rstrip("/"),
            verify=await self._context(peer),
            auth=(peer.username, peer.password),
            timeout=TIMEOUT,
        )

    async def release_domain(self, peer: PeerEndpoint, domain_id: str, to_site: str) -> str:
        path = f"/api/v1/protection-domains/{domain_id}/actions/release"
        async with await self._client(peer) as client:
            try:
                response = await client.post(path, json={"to_site": to_site})
            except (httpx.HTTPError, httpx.InvalidURL, UnicodeError) as error:
                raise PeerUnreachable(f"cannot reach the peer: {error}") from error
        if response.status_code in (401, 403):
            raise PeerAuthFailed("the peer refused the credentials")
        if response.status_code != 202:
            try:
                message = str(response.json().get("message"))
            except ValueError:
                message = response.text[:200]
            raise PeerRefused(f"the peer refused the handover ({response.status_code}): {message}")
        return str(response.json()["id"])

    async def task(self, peer: PeerEndpoint, task_id: str) -> RemoteTask:
        async with await self._client(peer) as client:
            body = await self._get(client, f"/api/v1/tasks/{task_id}")
        error = body.get("error") or {}
        return RemoteTask(
            id=str(body["id"]),
            status=str(body["status"]),
            result=dict(body.get("result") or {}),
            error_code=error.get("error_code") if isinstance(error, dict) else None,
            error_message=error.get("message") if isinstance(error, dict) else None,
        )

    async def describe(self, peer: PeerEndpoint) -> PeerInfo:
        async with await self._client(peer) as client:
            about = await self._get(client, "/api/v1/about")
            if not isinstance(about, dict) or PRODUCT not in str(about.get("product", "")):
                raise NotAnAppliance("the peer is not a JetStream DR appliance")
            sites = await self._get(client, "/api/v1/sites?role=local")
        local = (sites.get("items") or [None])[0] if isinstance(sites, dict) else None
        if not isinstance(local, dict) or "id" not in local or "name" not in local:
            raise NotAnAppliance("the peer did not say which site it is")
        return PeerInfo(
            site_id=str(local["id"]),
            site_name=str(local["name"]),
            product=str(about["product"]),
            version=str(about.get("version", "")),
            emulator=bool(about.get("emulator", False)),
        )
