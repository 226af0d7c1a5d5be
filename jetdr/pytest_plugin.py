"""pytest plugin: an emulated JetStream DR appliance for your integration tests.

    def test_something(jetdr_msa):          # a jetdr.Client, logged in as root
        jetdr_msa.run("/api/v1/vcenters", {...})

One appliance per test session, served over HTTPS on a free 127.0.0.1 port, reset before each
test (`POST /_emulator/reset`). `--jetdr-msa-mode=inprocess` (default) serves it from a thread
of the test process; `subprocess` starts `jetdr-msa serve` as its own process. The virtual clock
runs `scaled` at `jetdr_msa_clock_scale` (ini option, default 1000): a test can switch it to
`manual` and advance it. Installed with the package; nothing to configure.

`--jetdr-msa-url URL` (or `JETDR_MSA_URL`) uses an appliance someone else started instead (a
container, a compose stack, the k8s deployment), with the CLI's variables for the rest:
`JETDR_USERNAME` (default root), `JETDR_PASSWORD`, `JETDR_CA_FILE` or `JETDR_INSECURE=1`. It is
reset between tests all the same, so point it only at an appliance kept for tests.
"""

from __future__ import annotations

import os
import secrets
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from jetdr.client import Client

READY_TIMEOUT = 60.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("jetdr-msa")
    group.addoption(
        "--jetdr-msa-mode",
        choices=("inprocess", "subprocess"),
        default=os.environ.get("JETDR_MSA_MODE", "inprocess"),
        help="serve the emulated appliance from a thread or as its own process",
    )
    group.addoption(
        "--jetdr-msa-url",
        default=os.environ.get("JETDR_MSA_URL"),
        help="use the appliance already running at this URL (JETDR_MSA_URL) instead of one "
        "of the session's own",
    )
    parser.addini("jetdr_msa_clock_scale", "virtual seconds per real second", default="1000")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningAppliance:
    url: str
    data_dir: Path | None
    password: str
    username: str = "root"
    # What to trust: the certificate the session's appliance made, or what the user said.
    verify: bool | str | None = None
    stop_hooks: list[Any] = field(default_factory=list)

    @property
    def ca_file(self) -> Path:
        assert self.data_dir is not None, "an appliance started elsewhere has no data dir here"
        return self.data_dir / "tls" / "cert.pem"

    def client(self) -> Client:
        verify = self.verify if self.verify is not None else str(self.ca_file)
        return Client(self.url, username=self.username, password=self.password, verify=verify)

    def wait_ready(self, alive: Any = None) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if alive is not None and not alive():
                raise RuntimeError(f"the appliance stopped while starting (see {self.data_dir})")
            if self.ca_file.exists():
                try:
                    trust = ssl.create_default_context(cafile=str(self.ca_file))
                    answer = httpx.get(f"{self.url}/api/v1/status", verify=trust)
                    if answer.status_code == 200 and answer.json().get("status") == "ready":
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"the appliance was not ready in {READY_TIMEOUT:.0f} s")

    def stop(self) -> None:
        for hook in reversed(self.stop_hooks):
            hook()


def _environment(data_dir: Path, port: int, password: str, scale: str) -> dict[str, str]:
    return {
        "JETDR_HOST": "127.0.0.1",
        "JETDR_PORT": str(port),
        "JETDR_DATA_DIR": str(data_dir),
        "JETDR_ROOT_PASSWORD": password,
        "JETDR_HOSTNAME": "localhost",
        "JETDR_CLOCK__MODE": "scaled",
        "JETDR_CLOCK__SCALE": scale,
    }


def _in_process(running: RunningAppliance, env: dict[str, str]) -> None:
    from app.cli import build_server
    from app.settings import Settings

    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        settings = Settings()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    server = build_server(settings)
    thread = threading.Thread(target=server.run, name="jetdr-msa", daemon=True)
    thread.start()

    def stop() -> None:
        server.should_exit = True
        thread.join(30)

    running.stop_hooks.append(stop)
    running.wait_ready(thread.is_alive)


def _subprocess(running: RunningAppliance, env: dict[str, str]) -> None:
    log = (Path(env["JETDR_DATA_DIR"]) / "server.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve"],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def stop() -> None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()

    running.stop_hooks.append(stop)
    running.wait_ready(lambda: process.poll() is None)


@pytest.fixture(scope="session")
def jetdr_msa_appliance(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningAppliance]:
    """The session's appliance: `url`, `ca_file`, `password`, `client()`."""
    url = request.config.getoption("--jetdr-msa-url")
    if url:
        yield _elsewhere(str(url))
        return
    data_dir = tmp_path_factory.mktemp("jetdr-msa")
    port = _free_port()
    password = f"Msa-{secrets.token_urlsafe(12)}"
    scale = str(request.config.getini("jetdr_msa_clock_scale"))
    running = RunningAppliance(f"https://127.0.0.1:{port}", data_dir, password)
    env = _environment(data_dir, port, password, scale)
    try:
        if request.config.getoption("--jetdr-msa-mode") == "subprocess":
            _subprocess(running, env)
        else:
            _in_process(running, env)
        yield running
    finally:
        running.stop()


def _elsewhere(url: str) -> RunningAppliance:
    password = os.environ.get("JETDR_PASSWORD")
    if not password:
        raise pytest.UsageError("--jetdr-msa-url needs the appliance's password in JETDR_PASSWORD")
    insecure = os.environ.get("JETDR_INSECURE", "").lower() in ("1", "true", "yes")
    verify: bool | str = False if insecure else os.environ.get("JETDR_CA_FILE") or True
    running = RunningAppliance(
        url.rstrip("/"),
        None,
        password,
        username=os.environ.get("JETDR_USERNAME", "root"),
        verify=verify,
    )
    with running.client() as client:
        status = client.get("/api/v1/status")
    if status.get("status") != "ready":
        raise pytest.UsageError(f"the appliance at {url} is {status.get('status')}, not ready")
    return running


@pytest.fixture
def jetdr_msa(jetdr_msa_appliance: RunningAppliance) -> Iterator[Client]:
    """A client of the session's appliance, reset to its seeded state for this test (and after
    it, so nothing it started keeps running between tests)."""
    with jetdr_msa_appliance.client() as client:
        client.reset()
        yield client
        client.reset()
