"""The `vsphere` backend: a real vCenter through pyVmomi, the session in parts by what it
manages (reading, extensions, IO filters, access, VMs).

This package is the only place that imports pyVmomi/pyVim. Every SDK call is blocking, so each
runs in a worker thread under this backend's own capacity limiter; vmodl faults and transport
errors are translated here, once, into the adapter's error tree.
"""

from __future__ import annotations

import functools
import hashlib
import ssl
from collections.abc import Callable
from typing import Any

import anyio
from pyVim.connect import Disconnect, SmartConnect

from app.adapters.vcenter.errors import VCenterUnreachable
from app.adapters.vcenter.port import Endpoint
from app.adapters.vcenter.vsphere.access import Access
from app.adapters.vcenter.vsphere.base import T, translate
from app.adapters.vcenter.vsphere.extensions import Extensions
from app.adapters.vcenter.vsphere.iofilters import IoFilters
from app.adapters.vcenter.vsphere.reading import Reading
from app.adapters.vcenter.vsphere.vms import Vms


class VSphereVCenter:
    """`VCenterPort` over pyVmomi."""

    def __init__(
        self,
        *,
        verify_tls: bool = True,
        ca_file: str | None = None,
        thumbprint: str | None = None,
        max_threads: int = 8,
    ) -> None:
        self._verify_tls = verify_tls
        self._ca_file = ca_file
        self._thumbprint = thumbprint
        self._limiter = anyio.CapacityLimiter(max_threads)

    async def _run(self, call: Callable[..., T], *args: Any) -> T:
        try:
            return await anyio.to_thread.run_sync(
                functools.partial(call, *args), limiter=self._limiter
            )
        except BaseException as error:  # every fault is translated here
            if isinstance(error, anyio.get_cancelled_exc_class()):
                raise
            raise translate(error) from error

    def _ssl_context(self) -> ssl.SSLContext:
        if self._thumbprint or not self._verify_tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=self._ca_file)

    def _check_pin(self, endpoint: Endpoint) -> None:
        """With a pinned thumbprint, the certificate must be exactly that one."""
        if not self._thumbprint:
            return
        pem = ssl.get_server_certificate((endpoint.hostname, endpoint.port), timeout=15)
        der = ssl.PEM_cert_to_DER_cert(pem)
        pinned = self._thumbprint.replace(":", "").lower()
        digests = {hashlib.new(name, der).hexdigest() for name in ("sha1", "sha256", "sha512")}
        if pinned not in digests:
            raise VCenterUnreachable(
                f"the certificate of {endpoint.hostname} does not match the pinned thumbprint"
            )

    def _login(self, endpoint: Endpoint) -> Any:
        self._check_pin(endpoint)
        return SmartConnect(
            host=endpoint.hostname,
            port=endpoint.port,
            user=endpoint.username,
            pwd=endpoint.password,
            sslContext=self._ssl_context(),
            thumbprint=self._thumbprint,
            httpConnectionTimeout=15,
        )

    def ssl_context(self) -> ssl.SSLContext:
        return self._ssl_context()

    async def connect(self, endpoint: Endpoint) -> VSphereSession:
        instance = await self._run(self._login, endpoint)
        return VSphereSession(self._run, instance, self._ssl_context())

    async def reset(self) -> None:
        """A real vCenter keeps its state; the emulator's reset does not touch it."""


class VSphereSession(Reading, Extensions, IoFilters, Access, Vms):
    """`VCenterSession` over pyVmomi, in parts by what it manages."""

    async def logout(self) -> None:
        await self._run(Disconnect, self._si)
