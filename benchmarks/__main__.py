"""`python -m benchmarks [--db-url URL] [--skip-replication]`: every DESIGN.md target in one
table, each beside its baseline where one applies (a bare FastAPI endpoint for throughput, the
Go vcsim for cold start), measured in this run. Each benchmark runs as its own process (its
JSON is kept in `benchmarks/results/`; with `--db-url` each gets a fresh PostgreSQL database
named after it); the table is printed as Markdown."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run(module: str, *args: str) -> dict[str, Any]:
    outcome = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    body = outcome.stdout[outcome.stdout.index("{") :]
    result: dict[str, Any] = json.loads(body)
    return result


def fresh_database(admin_url: str, name: str) -> str:
    """A new, empty database beside `admin_url`'s for one benchmark (each one sets up its own
    site from scratch)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from app.core.db import sync_url

    url = make_url(admin_url)
    database = f"{url.database}_{name}"
    # The maintenance database is there on any server; the named one need not exist.
    server = url.set(database="postgres").render_as_string(hide_password=False)
    engine = create_engine(sync_url(server), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    engine.dispose()
    return url.set(database=database).render_as_string(hide_password=False)


def vcsim_cold_start() -> float | None:
    """Seconds until the Go vcsim serves (the reference point for a cold start)."""
    sys.path.insert(0, str(ROOT))
    try:
        from tests.peers import vcsim_server

        binary = vcsim_server.build()
    except BaseException:  # no Go toolchain: no reference point
        return None
    started = time.perf_counter()
    peer = vcsim_server.start(binary)
    seconds = time.perf_counter() - started
    peer.stop()
    return seconds


def row(what: str, value: str, baseline: str, target: str, met: bool | None) -> str:
    verdict = "—" if met is None else ("met" if met else "**not met**")
    return f"| {what} | {value} | {baseline} | {target} | {verdict} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", default=None)
    parser.add_argument("--skip-replication", action="store_true")
    args = parser.parse_args()

    def database(name: str) -> list[str]:
        return ["--db-url", fresh_database(args.db_url, name)] if args.db_url else []

    results: dict[str, Any] = {
        "serving": run("run", *database("serving")),
        "listing": run("listing", *database("listing")),
        "reset": run("reset", *database("reset")),
        "vcsim_cold_start_s": vcsim_cold_start(),
    }
    if not args.skip_replication:
        results["replication"] = run("replication", *database("replication"))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    name = "postgresql" if args.db_url else "sqlite"
    (out / f"all-{name}.json").write_text(json.dumps(results, indent=2))

    serving, listing, reset = results["serving"], results["listing"], results["reset"]
    vcsim = results["vcsim_cold_start_s"]
    page = listing["vms_page_of_100"]
    lines = [
        f"Database: {name}",
        "",
        "| target | measured | baseline | DESIGN.md target | |",
        "|---|---|---|---|---|",
        row(
            "cold start to ready over HTTPS (fresh data dir, median of 3)",
            f"{serving['cold_start_first_boot_s']} s",
            f"Go vcsim {vcsim:.3f} s" if vcsim is not None else "vcsim not built",
            "≤ 1.5 s",
            serving["cold_start_first_boot_s"] <= 1.5,
        ),
        row(
            "start to ready (existing data dir)",
            f"{serving['start_existing_data_dir_s']} s",
            "",
            "≤ 1.5 s",
            serving["start_existing_data_dir_s"] <= 1.5,
        ),
        row(
            "reset with 10,000 protected VMs (round trip, median of 3)",
            f"{reset['wall_ms_median']} ms",
            f"server side {reset['server_ms_median']} ms",
            "≤ 100 ms",
            reset["wall_ms_median"] <= 100,
        ),
        row(
            "authenticated GET of one resource, requests/s",
            f"{serving['authenticated_get_session']['rps']}",
            f"bare FastAPI {serving['bare_fastapi']['rps']}",
            "≥ 50 % of bare",
            serving["authenticated_vs_bare"] >= 0.5,
        ),
        row(
            "page of 100 of 10,000 VMs, p99 at 32 clients",
            f"{page['p99_ms']} ms ({page['rps']} req/s)",
            f"500 domains listed: p99 {listing['domains_list_of_500']['p99_ms']} ms",
            "≤ 30 ms",
            bool(listing["met"]),
        ),
    ]
    if "replication" in results:
        hour = results["replication"]["one_virtual_hour_wall_s"]
        lines.append(
            row("one virtual hour, 1,000 protected VMs", f"{hour} s wall", "", "≤ 10 s", hour <= 10)
        )
    lines.append(
        row(
            "idle memory (RSS)",
            f"{serving['idle_rss_mb']} MB",
            "",
            "≤ 150 MB",
            serving["idle_rss_mb"] <= 150,
        )
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
