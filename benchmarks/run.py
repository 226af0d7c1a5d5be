"""`python -m benchmarks.run`: cold start to ready, idle memory, and authenticated-GET
requests/s beside a bare FastAPI endpoint served the same way, in the same run.

Targets (DESIGN.md): cold start <= 1.5 s; idle RSS <= 150 MB; authenticated GET >= 50 % of
the bare endpoint's requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.load import LoadResult, run_load

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-Passw0rd"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _context(cafile: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cafile))


def _get(url: str, cafile: Path, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, context=_context(cafile), timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, None


class Server:
    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_s(self) -> float:
        """User and system CPU time the process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_appliance(
    data_dir: Path, port: int, db_url: str | None, extra_env: dict[str, str] | None = None
) -> tuple[Server, float]:
    started = time.perf_counter()
    server = Server(
        [str(Path(sys.executable).parent / "jetdr-msa"), "serve"],
        {
            "JETDR_DATA_DIR": str(data_dir),
            "JETDR_HOST": "127.0.0.1",
            "JETDR_PORT": str(port),
            "JETDR_ROOT_PASSWORD": PASSWORD,
            "JETDR_LOG_LEVEL": "warning",
            **({"JETDR_DB__URL": db_url} if db_url else {}),
            **(extra_env or {}),
        },
    )
    cafile = data_dir / "tls" / "cert.pem"
    while time.perf_counter() - started < 60:
        if cafile.exists():
            try:
                if _get(f"https://127.0.0.1:{port}/api/v1/status", cafile)[0] == 200:
                    return server, time.perf_counter() - started
            except OSError:
                pass
        time.sleep(0.01)
    server.stop()
    raise RuntimeError("the appliance did not become ready in 60 s")


def login(port: int, cafile: Path) -> str:
    body = json.dumps({"username": "root", "password": PASSWORD}).encode()
    request = urllib.request.Request(
        f"https://127.0.0.1:{port}/api/v1/session",
        data=body,
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, context=_context(cafile), timeout=5) as response:
        token: str = json.load(response)["session_id"]
    return token


def measure(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "database": "postgresql" if args.db_url else "sqlite",
        "connections": args.connections,
        "seconds_per_target": args.seconds,
    }
    with tempfile.TemporaryDirectory() as scratch:
        cold: list[float] = []
        for attempt in range(args.starts):
            server, seconds = start_appliance(Path(scratch) / f"cold-{attempt}", free_port(), None)
            cold.append(seconds)
            server.stop()
        results["cold_start_first_boot_s"] = round(statistics.median(cold), 3)

        data_dir = Path(scratch) / "appliance"
        server, _ = start_appliance(data_dir, free_port(), args.db_url)
        server.stop()
        port = free_port()
        server, warm = start_appliance(data_dir, port, args.db_url)
        results["start_existing_data_dir_s"] = round(warm, 3)
        cafile = data_dir / "tls" / "cert.pem"
        bare_port = free_port()
        bare = Server(
            [
                sys.executable,
                "-m",
                "benchmarks.bare_app",
                "--port",
                str(bare_port),
                "--certfile",
                str(cafile),
                "--keyfile",
                str(data_dir / "tls" / "key.pem"),
            ],
            {},
        )
        try:
            time.sleep(2)
            results["idle_rss_mb"] = round(server.rss_mb(), 1)
            token = login(port, cafile)
            site_id = _get(
                f"https://127.0.0.1:{port}/api/v1/sites", cafile, {"x-jetdr-session": token}
            )[1]["items"][0]["id"]
            for _ in range(100):
                try:
                    if _get(f"https://127.0.0.1:{bare_port}/item", cafile)[0] == 200:
                        break
                except OSError:
                    time.sleep(0.05)

            def load(target_port: int, path: str, headers: dict[str, str]) -> LoadResult:
                return asyncio.run(
                    run_load(
                        target_port,
                        path,
                        headers,
                        str(cafile),
                        seconds=args.seconds,
                        connections=args.connections,
                    )
                )

            load(bare_port, "/item", {})  # warm-up
            load(port, f"/api/v1/sites/{site_id}", {"x-jetdr-session": token})
            runs: dict[str, LoadResult] = {
                "bare_fastapi": load(bare_port, "/item", {}),
                "authenticated_get_session": load(
                    port, f"/api/v1/sites/{site_id}", {"x-jetdr-session": token}
                ),
            }
        finally:
            bare.stop()
            server.stop()
    for name, run in runs.items():
        results[name] = {
            "rps": round(run.rps, 1),
            "p50_ms": round(run.p50_ms, 2),
            "p99_ms": round(run.p99_ms, 2),
            "errors": run.errors,
        }
    results["authenticated_vs_bare"] = round(
        runs["authenticated_get_session"].rps / runs["bare_fastapi"].rps, 3
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="load duration per target")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--starts", type=int, default=3, help="cold starts to take the median of")
    parser.add_argument(
        "--db-url", help="run the load against this database (default: SQLite in the data dir)"
    )
    args = parser.parse_args()
    results = measure(args)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
