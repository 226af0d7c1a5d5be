"""Object-store peers: moto's S3 server (PyPI `moto[server]`) and Azurite (npm `azurite`, looked
for on PATH or in ~/.cache/jetdr-peers, where .ci/run installs it). Each starts on a free port
and is stopped by its fixture."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.adapters.objectstore.factory import StoreSpec, build_store
from app.adapters.objectstore.port import ObjectStore
from tests.peers import missing_peer

# Azurite's well-known development account (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
PEER_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "jetdr-peers"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_port(port: int, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not listen on {port}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@dataclass(frozen=True)
class S3Peer:
    endpoint: str


@dataclass(frozen=True)
class AzuritePeer:
    endpoint: str
    account: str = AZURITE_ACCOUNT
    key: str = AZURITE_KEY


@contextmanager
def moto_server() -> Iterator[S3Peer]:
    binary = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    if not Path(binary).exists():
        missing_peer("moto's S3 server needs `pip install 'moto[server]'`")
    port = free_port()
    process = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, process, "moto_server")
        yield S3Peer(endpoint=f"http://127.0.0.1:{port}")
    finally:
        _stop(process)


@contextmanager
def azurite(workdir: Path, port: int | None = None) -> Iterator[AzuritePeer]:
    """Azurite keeps its blobs in `workdir`: started again on the same port and directory,
    it serves what it held before it stopped."""
    binary = shutil.which("azurite-blob") or str(
        PEER_CACHE / "node_modules" / ".bin" / "azurite-blob"
    )
    if not Path(binary).exists():
        missing_peer(
            "Azurite needs Node.js and `npm install --prefix ~/.cache/jetdr-peers azurite@3`"
        )
    port = port or free_port()
    process = subprocess.Popen(
        [
            binary,
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(workdir),
            "--silent",
            "--skipApiVersionCheck",
            "--loose",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, process, "azurite")
        yield AzuritePeer(endpoint=f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}")
    finally:
        _stop(process)


def store_for(spec: dict[str, Any]) -> ObjectStore:
    """The object store a storage-site request body describes, as the tests reach it."""
    return build_store(
        StoreSpec(
            type=spec["type"],
            endpoint=spec.get("endpoint"),
            account_name=spec.get("account_name"),
            access_key=spec.get("access_key"),
            region=spec.get("region"),
            path=spec.get("path"),
        )
    )
