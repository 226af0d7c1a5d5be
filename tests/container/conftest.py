"""Appliances running from the built image, not from the checkout (issue 15).

`make container-test` builds the image and sets `JETDR_IMAGE`. Each appliance is a `buildah`
working container of that image, its entrypoint run with `buildah run --isolation chroot` (the
image's user, filesystem and environment, on the host network), its volume a directory of the
test's. They are the e2e suite's `ServedAppliance`s otherwise, so the DR helpers drive them."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT_PASSWORD, backend
from tests.e2e.conftest import ServedAppliance
from tests.peers import missing_peer, postgres_database

IMAGE = os.environ.get("JETDR_IMAGE", "")
VCSIM_IMAGE = os.environ.get("JETDR_VCSIM_IMAGE", "localhost/jetdr-vcsim:test")
VOLUME = "/var/lib/jetdr"
APPLIANCE_UID = 10001


def buildah(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["buildah", *args], capture_output=True, text=True, check=check)


@functools.cache
def _config_of(image: str) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(buildah("inspect", "--type", "image", image).stdout)[
        "Docker"
    ]["config"]
    return config


def image_config(field: str, image: str = IMAGE) -> Any:
    """A field of an image's Docker config (`Entrypoint`, `Healthcheck`, `User`…)."""
    return _config_of(image).get(field)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


class ContainerAppliance(ServedAppliance):
    def __init__(self, data_dir: Path, env: dict[str, str], port: int | None = None) -> None:
        super().__init__(data_dir, env)
        if port is not None:
            self.port = port
        self.container = buildah("from", "--pull-never", IMAGE).stdout.strip()

    def options(self) -> list[str]:
        environment = {
            **self.env,
            "JETDR_HOST": "127.0.0.1",
            "JETDR_PORT": str(self.port),
            "JETDR_ROOT_PASSWORD": ROOT_PASSWORD,
        }
        flags = ["--isolation", "chroot", "-v", f"{self.data_dir}:{VOLUME}"]
        for name, value in environment.items():
            flags += ["-e", f"{name}={value}"]
        return flags

    def launch(self, environment: dict[str, str]) -> subprocess.Popen[bytes]:
        # The volume belongs to the image's user, as a named volume would.
        os.chown(self.data_dir, APPLIANCE_UID, APPLIANCE_UID)
        with self.log.open("ab") as log:
            return subprocess.Popen(
                ["buildah", "run", *self.options(), self.container, "--", *self.entrypoint()],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def entrypoint(self) -> list[str]:
        command: list[str] = image_config("Entrypoint")
        return command

    def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        """A command in the container beside the server (as `docker exec` would)."""
        return buildah("run", *self.options(), self.container, "--", *command, check=False)

    def server_pid(self) -> int:
        """The appliance's process under `buildah run` (the entrypoint execs the server)."""
        assert self.process is not None
        pending = [self.process.pid]
        while pending:
            pid = pending.pop()
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"jetdr-msa\x00serve" in command or b"jetdr-msa serve" in command:
                return pid
            pending += _children(pid)
        raise AssertionError("no server process under buildah run")

    def signal_server(self, signum: int) -> None:
        # `buildah run` does not pass a signal on: the server gets it, as from `docker stop`.
        os.kill(self.server_pid(), signum)

    def remove(self) -> None:
        self.stop()
        buildah("rm", self.container, check=False)


class VcsimContainer:
    """The project's vcsim image (`tests/peers/vcsim/Dockerfile`, what compose builds) on a
    port of the host network."""

    def __init__(self, image: str, port: int) -> None:
        self.port = port
        self.container = buildah("from", "--pull-never", image).stdout.strip()
        command = [image_config("Entrypoint", image)[0], "-listen", f"127.0.0.1:{port}"]
        self.process = subprocess.Popen(
            ["buildah", "run", "--isolation", "chroot", self.container, "--", *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "vcsim exited before serving"
        self.url = json.loads(line)["url"]

    def remove(self) -> None:
        for pid in _children(self.process.pid):
            for child in [pid, *_children(pid)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGTERM)
        self.process.wait(20)
        buildah("rm", self.container, check=False)


Serve = Callable[..., ContainerAppliance]


@pytest.fixture(scope="session", autouse=True)
def image() -> str:
    if not IMAGE:
        missing_peer("the container tests need JETDR_IMAGE (`make container-test` builds it)")
    for name in (IMAGE, VCSIM_IMAGE):
        if buildah("inspect", "--type", "image", name, check=False).returncode != 0:
            missing_peer(f"no image {name}: build it with `make container-test`")
    return IMAGE


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """`serve(name, port=None, sqlite=False, **env)`: an appliance container with its own
    volume and (on PostgreSQL, unless `sqlite`) its own database."""
    with ExitStack() as stack:

        def make(
            name: str = "data", port: int | None = None, sqlite: bool = False, **env: str
        ) -> ContainerAppliance:
            database: dict[str, str] = {}
            if backend() == "postgresql" and not sqlite:
                database = {"JETDR_DB__URL": stack.enter_context(postgres_database())}
            appliance = ContainerAppliance(tmp_path / name, {**database, **env}, port)
            stack.callback(appliance.remove)
            return appliance

        yield make
