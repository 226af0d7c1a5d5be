"""The appliance as a separate process, started exactly as the container does it:
`deploy/entrypoint` (exec `jetdr-msa serve`, which migrates before it is ready) with settings
from the environment."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT_PASSWORD, backend
from tests.peers import missing_peer, objectstores, postgres_database
from tests.peers.objectstores import AzuritePeer

ENTRYPOINT = Path(__file__).resolve().parents[2] / "deploy" / "entrypoint"
TERMINAL = {"succeeded", "failed", "cancelled"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_status(pid: int) -> dict[str, str]:
    """`/proc/<pid>/status` as fields (`Uid`, `VmRSS`, `CapEff`…)."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {name: value.strip() for name, _, value in (line.partition(":") for line in lines)}


class PortTaken(AssertionError):
    """The appliance exited because another process holds its port."""


class ServedAppliance:
    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.env = env
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "server.log"
        self._clients: list[httpx.Client] = []
        self._served_once = False

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.data_dir / "tls" / "cert.pem"))

    def start(self, timeout: float = 30.0) -> float:
        # `free_port` closes its probe before the appliance binds: another process (a parallel
        # test's server, vcsim) can take the port in between. A first start then moves to
        # another port; a restart keeps its port, which peers and clients already know.
        for _ in range(3):
            try:
                return self._start(timeout)
            except PortTaken:
                if self._served_once:
                    raise
                self.port = free_port()
        return self._start(timeout)

    def _start(self, timeout: float) -> float:
        environment = {
            **os.environ,
            **self.env,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "JETDR_HOST": "127.0.0.1",
            "JETDR_PORT": str(self.port),
            "JETDR_DATA_DIR": str(self.data_dir),
            "JETDR_ROOT_PASSWORD": ROOT_PASSWORD,
        }
        self.data_dir.mkdir(parents=True, exist_ok=True)
        logged_before = self.log.stat().st_size if self.log.exists() else 0
        started = time.monotonic()
        self.process = self.launch(environment)
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log.read_text()
                if "address already in use" in log[logged_before:]:
                    raise PortTaken(log)
                raise AssertionError(f"appliance exited early:\n{log}")
            if (self.data_dir / "tls" / "cert.pem").exists():
                try:
                    with self.client(auth=False) as client:
                        if client.get("/api/v1/status").status_code == 200:
                            self._served_once = True
                            return time.monotonic() - started
                except (httpx.TransportError, ssl.SSLError):
                    pass  # not serving yet, or the certificate not written whole yet
            time.sleep(0.05)
        raise AssertionError(f"appliance not ready in {timeout}s:\n{self.log.read_text()}")

    def launch(self, environment: dict[str, str]) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            return subprocess.Popen(
                [str(ENTRYPOINT)], env=environment, stdout=log, stderr=subprocess.STDOUT
            )

    def client(self, auth: bool = True) -> httpx.Client:
        client = httpx.Client(
            base_url=self.url,
            verify=self.tls_context(),
            auth=("root", ROOT_PASSWORD) if auth else None,
            timeout=10,
        )
        self._clients.append(client)
        return client

    def signal_server(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def kill(self) -> None:
        assert self.process is not None
        self.signal_server(signal.SIGKILL)
        self.process.wait(15)

    def stop(self) -> None:
        # An idle keep-alive TLS connection holds uvicorn's graceful shutdown for its whole
        # timeout (5 s): the clients go first.
        for client in self._clients:
            client.close()
        self._clients.clear()
        if self.process is None or self.process.poll() is not None:
            return
        self.signal_server(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def wait_task(self, client: httpx.Client, task_id: str, statuses: set[str] = TERMINAL) -> Any:
        for _ in range(600):
            task = client.get(f"/api/v1/tasks/{task_id}").json()
            if task["status"] in statuses:
                return task
            time.sleep(0.05)
        raise AssertionError(f"task {task_id} stuck: {task}")


@pytest.fixture
def database_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    if backend() == "postgresql":
        with postgres_database() as url:
            yield {"JETDR_DB__URL": url}
    else:
        yield {}


@pytest.fixture
def serve(tmp_path: Path, database_env: dict[str, str]) -> Iterator[Any]:
    """`serve(**env)` makes an appliance process; `serve(name="b", ...)` another one, with its
    own data directory and (on PostgreSQL) its own database."""
    with ExitStack() as stack:

        def make(name: str = "data", **env: str) -> ServedAppliance:
            database = database_env
            if name != "data" and backend() == "postgresql":
                database = {"JETDR_DB__URL": stack.enter_context(postgres_database())}
            served = ServedAppliance(tmp_path / name, {**database, **env})
            stack.callback(served.stop)
            return served

        yield make


@pytest.fixture
def azurite(tmp_path: Path) -> Iterator[AzuritePeer]:
    """An Azurite storage site two appliances share (the recovery tests)."""
    with objectstores.azurite(tmp_path / "azurite") as peer:
        yield peer


ROOT = Path(__file__).resolve().parents[2]


def artifacts_dir() -> Path:
    """Where screenshots go for CI to keep: `$JETDR_TEST_ARTIFACTS`, or `test-artifacts/`."""
    artifacts = Path(os.environ.get("JETDR_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    return artifacts


@pytest.fixture
def browser() -> Iterator[Any]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        missing_peer("the dashboard test needs Debian's chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_peer("the dashboard test needs `pip install playwright`")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            launched.close()


def dashboard_of(browser: Any, served: ServedAppliance, password: str = ROOT_PASSWORD) -> Any:
    """A Chromium page logged into the appliance's dashboard (its context closes with the
    browser)."""
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    assert page.goto(f"{served.url}/ui/").status == 200
    login = page.locator("form#login")
    login.locator("input[name=username]").fill("root")
    login.locator("input[name=password]").fill(password)
    login.locator("button[type=submit]").click()
    page.wait_for_selector("#appliance:has-text('ready')")
    return page
