"""The same contract runs against the simulated backend and against pyVmomi talking to vcsim."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.adapters.vcenter.port import Endpoint, VCenterPort
from app.adapters.vcenter.vsphere import VSphereVCenter
from app.container import build_container
from app.core.tls import ensure_self_signed
from app.domain.plugin.package import IOFILTER_VERSION, build_vib, vib_file_name
from app.migrate import run_migrations
from app.settings import Settings
from tests.peers import vcsim_server


@dataclass
class Backend:
    name: str
    port: VCenterPort
    endpoint: Endpoint
    fail_hosts: Callable[[list[str]], Awaitable[None]]

    def with_password(self, password: str) -> Endpoint:
        return Endpoint(
            self.endpoint.hostname, self.endpoint.port, self.endpoint.username, password
        )


class _VibHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != f"/iofilter/{vib_file_name()}":
            self.send_error(404)
            return
        body = build_vib(IOFILTER_VERSION)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="session")
def vib_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The IO-filter VIB over HTTPS, as the appliance serves it, for vCenter to fetch."""
    pair = ensure_self_signed(tmp_path_factory.mktemp("vib-tls"), "localhost")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _VibHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pair.certfile, pair.keyfile)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/iofilter/{vib_file_name()}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(params=["simulated", "vsphere"])
async def backend(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], tmp_path: Path
) -> AsyncIterator[Backend]:
    if request.param == "simulated":
        settings = make_settings(clock={"mode": "scaled", "scale": 1_000_000})
        run_migrations(settings.database_url)
        container = build_container(settings)
        simulator = container.platform.simulator
        assert simulator is not None
        spec = container.platform.topology.vcenter
        try:
            yield Backend(
                "simulated",
                simulator,
                Endpoint(spec.hostname, 443, spec.username, spec.password),
                simulator.fail_hosts,
            )
        finally:
            await container.platform.engine.dispose()
        return
    binary = request.getfixturevalue("vcsim_binary")
    server = vcsim_server.start(binary, tmp_path)

    async def fail_hosts(names: list[str]) -> None:
        server.fail_hosts(names)

    try:
        yield Backend(
            "vsphere",
            VSphereVCenter(verify_tls=False),
            Endpoint(server.host, server.port, vcsim_server.USERNAME, vcsim_server.PASSWORD),
            fail_hosts,
        )
    finally:
        server.stop()
