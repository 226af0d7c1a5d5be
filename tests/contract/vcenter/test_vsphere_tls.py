"""How the pyVmomi backend trusts vCenter's certificate (vcsim serves a self-signed one)."""

from __future__ import annotations

import hashlib
import ssl
from typing import Any

import pytest

from app.adapters.vcenter.errors import VCenterUnreachable
from app.adapters.vcenter.port import Endpoint
from app.adapters.vcenter.vsphere import VSphereVCenter
from tests.peers import vcsim_server


def _endpoint(vcsim: Any) -> Endpoint:
    return Endpoint(vcsim.host, vcsim.port, vcsim_server.USERNAME, vcsim_server.PASSWORD)


def _thumbprint(vcsim: Any) -> str:
    der = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate((vcsim.host, vcsim.port)))
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


async def test_untrusted_certificate_is_refused_by_default(vcsim: Any) -> None:
    with pytest.raises(VCenterUnreachable, match=r"(?i)certificate"):
        await VSphereVCenter().connect(_endpoint(vcsim))


async def test_pinned_thumbprint_is_trusted(vcsim: Any) -> None:
    session = await VSphereVCenter(thumbprint=_thumbprint(vcsim)).connect(_endpoint(vcsim))
    try:
        assert (await session.about()).version == "7.0.3"
    finally:
        await session.logout()


async def test_wrong_thumbprint_is_refused(vcsim: Any) -> None:
    wrong = ":".join(["AB"] * 32)
    with pytest.raises(VCenterUnreachable):
        await VSphereVCenter(thumbprint=wrong).connect(_endpoint(vcsim))
