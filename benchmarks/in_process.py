"""`python -m benchmarks.in_process`: what a request costs inside the application, without
TLS, uvicorn or a load generator: 300 sequential requests through httpx's ASGI transport, for
`GET /api/v1/status` (reads nothing), `GET /api/v1/sites/{id}` and a page of 100 of 10,000 VMs,
and the same for the bare FastAPI endpoint of `benchmarks.bare_app` (the throughput baseline).

Set-up (not timed): the listing benchmark's data (10,000 VMs, 500 domains) made by an
appliance process, which is then stopped; the application is built in this process on it."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.bare_app import app as bare_app
from benchmarks.listing import more_domains
from benchmarks.replication import Api
from benchmarks.reset import fill, set_up
from benchmarks.run import PASSWORD, free_port, start_appliance


def prepare(data_dir: Path, store: Path) -> None:
    port = free_port()
    server, _ = start_appliance(data_dir, port, None)
    try:
        domain = set_up(Api(port, data_dir / "tls" / "cert.pem"), store)
        db_url = f"sqlite:///{data_dir / 'jetdr.db'}"
        fill(db_url, domain, 10_000)
        more_domains(db_url, domain, 499)
    finally:
        server.stop()


async def measure(data_dir: Path, requests: int) -> dict[str, float]:
    os.environ.update(
        JETDR_DATA_DIR=str(data_dir), JETDR_ROOT_PASSWORD=PASSWORD, JETDR_LOG_LEVEL="warning"
    )
    from app.main import create_app
    from app.settings import Settings

    app = create_app(Settings())
    results: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://msa") as client:
            while (await client.get("/api/v1/status")).json()["status"] != "ready":
                await asyncio.sleep(0.05)
            login = {"username": "root", "password": PASSWORD}
            token = (await client.post("/api/v1/session", json=login)).json()["session_id"]
            headers = {"x-jetdr-session": token}
            site = (await client.get("/api/v1/sites", headers=headers)).json()["items"][0]["id"]
            paths = {
                "status": "/api/v1/status",
                "site": f"/api/v1/sites/{site}",
                "vms_page_of_100": "/api/v1/vms?limit=100&offset=5000",
            }
            for name, path in paths.items():
                results[f"{name}_ms"] = await _timed(app, path, headers, requests)
    results["bare_fastapi_ms"] = await _timed(bare_app, "/item", {}, requests)
    return results


async def _timed(app: Any, path: str, headers: dict[str, str], requests: int) -> float:
    """Milliseconds per request, after 30 untimed ones, through the same transport."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://msa") as client:
        for _ in range(30):
            await client.get(path, headers=headers)
        started = time.perf_counter()
        for _ in range(requests):
            response = await client.get(path, headers=headers)
            assert response.status_code == 200, response.text
        return round((time.perf_counter() - started) / requests * 1000, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        prepare(data_dir, Path(scratch) / "store")
        print(json.dumps(asyncio.run(measure(data_dir, args.requests)), indent=2))


if __name__ == "__main__":
    main()
