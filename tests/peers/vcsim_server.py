"""vcsim: govmomi's vCenter simulator plus our ExtensionManager and IoFilterManager handlers
(`tests/peers/vcsim/main.go`), built from Debian's golang-go and golang-github-vmware-govmomi-dev
and started over TLS on a free port."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.peers import missing_peer

SOURCE = Path(__file__).resolve().parent / "vcsim" / "main.go"
GOPATH = Path("/usr/share/gocode")
GOVMOMI = GOPATH / "src" / "github.com" / "vmware" / "govmomi" / "simulator"
USERNAME = "administrator@vsphere.local"
PASSWORD = "VMware1!"


@dataclass
class Vcsim:
    url: str
    host: str
    port: int
    fault_file: Path
    process: subprocess.Popen[bytes]

    def fail_hosts(self, names: list[str]) -> None:
        self.fault_file.write_text("\n".join(names))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def build() -> Path:
    """Build once per source version; a missing toolchain is a missing peer."""
    go = shutil.which("go")
    if go is None or not GOVMOMI.is_dir():
        missing_peer(
            "vcsim needs Debian's golang-go and golang-github-vmware-govmomi-dev "
            "(apt-get install golang-go golang-github-vmware-govmomi-dev)"
        )
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "jetdr-vcsim"
    binary = cache / f"jetdr-vcsim-{digest}"
    if binary.exists():
        return binary
    cache.mkdir(parents=True, exist_ok=True)
    environment = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": str(GOPATH),
        "GOCACHE": str(cache / "gocache"),
        "GOFLAGS": "",
    }
    partial = cache / f".{binary.name}.{os.getpid()}"
    subprocess.run(
        [go, "build", "-o", str(partial), "."],
        cwd=SOURCE.parent,
        env=environment,
        check=True,
        capture_output=True,
    )
    partial.replace(binary)
    return binary


def start(binary: Path, fault_dir: Path | None = None) -> Vcsim:
    fault_file = Path(tempfile.mkstemp(prefix="vcsim-faults-", dir=fault_dir)[1])
    process = subprocess.Popen(
        [
            str(binary),
            "-listen",
            "127.0.0.1:0",
            "-username",
            USERNAME,
            "-password",
            PASSWORD,
            "-fault-file",
            str(fault_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    if not line:
        process.kill()
        raise RuntimeError("vcsim exited before serving")
    url = json.loads(line)["url"]
    authority = url.split("://", 1)[1].split("/", 1)[0]
    host, port = authority.rsplit(":", 1)
    return Vcsim(url=url, host=host, port=int(port), fault_file=fault_file, process=process)
