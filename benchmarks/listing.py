"""`python -m benchmarks.listing [--db-url URL]`: a page of 100 VMs out of 10,000, and the list
of 500 protection domains, under 32 concurrent keep-alive clients (p50, p99, requests/s).

Set-up (not timed): one domain through the API, then 10,000 VMs (protected in it) and 499 more
domains inserted straight into the database. DESIGN.md's target: p99 ≤ 30 ms for the page."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select

from app.core.db import sync_url
from app.models import Base
from benchmarks.load import run_load
from benchmarks.replication import Api
from benchmarks.reset import fill, set_up
from benchmarks.run import free_port, login, start_appliance

TARGET_P99_MS = 30.0


def more_domains(db_url: str, template_id: str, count: int) -> None:
    engine = create_engine(sync_url(db_url))
    table = Base.metadata.tables["protection_domain"]
    with engine.begin() as connection:
        template = dict(
            connection.execute(select(table).where(table.c.id == template_id)).mappings().one()
        )
        connection.execute(
            insert(table),
            [
                {
                    **template,
                    "id": f"pd-bulk{i:06d}",
                    "name": f"bulk-{i:04d}",
                    "container": f"jetdr-pd-bulk{i:06d}",
                }
                for i in range(count)
            ],
        )
    engine.dispose()


def measure(db_url_option: str | None, seconds: float, connections: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        db_url = db_url_option or f"sqlite:///{data_dir / 'jetdr.db'}"
        port = free_port()
        server, _ = start_appliance(
            data_dir,
            port,
            db_url_option,
            {"JETDR_CLOCK__MODE": "scaled", "JETDR_CLOCK__SCALE": "1000"},
        )
        try:
            cafile = data_dir / "tls" / "cert.pem"
            api = Api(port, cafile)
            domain = set_up(api, Path(scratch) / "store")
            fill(db_url, domain, 10_000)
            more_domains(db_url, domain, 499)
            assert api.call("GET", "/api/v1/vms", limit=1)["_meta"]["total"] >= 10_000
            listed = api.call("GET", "/api/v1/protection-domains", limit=500)
            assert len(listed["items"]) == 500
            headers = {"x-jetdr-session": login(port, cafile)}

            def load(path: str) -> dict[str, float]:
                result = asyncio.run(
                    run_load(
                        port, path, headers, str(cafile), seconds=seconds, connections=connections
                    )
                )
                return {
                    "rps": round(result.rps, 1),
                    "p50_ms": round(result.p50_ms, 2),
                    "p99_ms": round(result.p99_ms, 2),
                    "errors": result.errors,
                }

            load("/api/v1/vms?limit=100")  # warm-up
            page = load("/api/v1/vms?limit=100&offset=5000")
            domains = load("/api/v1/protection-domains?limit=500")
        finally:
            server.stop()
    return {
        "vms_page_of_100": page,
        "domains_list_of_500": domains,
        "connections": connections,
        "target_p99_ms": TARGET_P99_MS,
        "met": page["p99_ms"] <= TARGET_P99_MS and page["errors"] == 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", default=None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    print(json.dumps(measure(args.db_url, args.seconds, args.connections), indent=2))


if __name__ == "__main__":
    main()
