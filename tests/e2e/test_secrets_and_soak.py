"""Two reliability checks against the appliance process: secrets appear in no response of any
GET operation and in no log line; a soak at a fixed request rate has no errors and no memory
growth. CI runs the soak for `JETDR_SOAK_SECONDS` (default 20)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT_PASSWORD, VCENTER
from tests.e2e.conftest import ServedAppliance

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]
USER_PASSWORD = "Operator-Secret-Passw0rd"
# A path parameter, and the collection whose ids fill it.
COLLECTIONS = {
    "vcenter_id": "/api/v1/vcenters",
    "cluster_id": "/api/v1/clusters",
    "host_id": "/api/v1/hosts",
    "vm_id": "/api/v1/vms",
    "datastore_id": "/api/v1/datastores",
    "network_id": "/api/v1/networks",
    "drva_id": "/api/v1/drvas",
    "task_id": "/api/v1/tasks",
    "user_id": "/api/v1/users",
    "site_id": "/api/v1/sites",
    "storage_site_id": "/api/v1/storage-sites",
    "domain_id": "/api/v1/protection-domains",
    "alarm_id": "/api/v1/alarms",
}


def first_id(client: httpx.Client, collection: str) -> str:
    items = client.get(collection).json().get("items") or []
    return str(items[0]["id"]) if items else "none"


def test_no_secret_in_any_response_or_log_line(
    serve: Callable[..., ServedAppliance], tmp_path: Path
) -> None:
    appliance = serve(
        JETDR_CLOCK__MODE="scaled", JETDR_CLOCK__SCALE="1000", JETDR_LOG_LEVEL="debug"
    )
    appliance.start()
    secrets = [ROOT_PASSWORD, USER_PASSWORD, VCENTER["password"]]
    with appliance.client() as client:
        assert (
            appliance.wait_task(client, client.post("/api/v1/vcenters", json=VCENTER).json()["id"])[
                "status"
            ]
            == "succeeded"
        )
        created = client.post(
            "/api/v1/users",
            json={"username": "ops", "role": "operator", "password": USER_PASSWORD},
        )
        assert created.status_code == 201
        store = {"name": "local", "type": "local", "path": str(tmp_path / "store")}
        assert client.post("/api/v1/storage-sites", json=store).status_code == 201
        ids = {name: first_id(client, path) for name, path in COLLECTIONS.items()}
        spec = client.get("/openapi.json").json()
        crawled = 0
        for path, operations in spec["paths"].items():
            if "get" not in operations:
                continue
            concrete = re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), "none"), path)
            response = client.get(concrete)
            assert response.status_code < 500, (concrete, response.text)
            for secret in secrets:
                assert secret not in response.text, (concrete, "leaks a secret")
            crawled += 1
        assert crawled > 40
    log = appliance.log.read_text()
    assert "DEBUG" in log
    for secret in secrets:
        assert secret not in log


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_soak_at_a_fixed_rate(serve: Callable[..., ServedAppliance]) -> None:
    appliance = serve(JETDR_CLOCK__MODE="scaled", JETDR_CLOCK__SCALE="100")
    appliance.start()
    assert appliance.process is not None
    seconds = float(os.environ.get("JETDR_SOAK_SECONDS", "20"))
    rate = 40.0
    paths = [
        "/api/v1/status",
        "/api/v1/vcenters",
        "/api/v1/vms?limit=50",
        "/api/v1/tasks",
        "/metrics",
    ]
    with appliance.client() as client:
        assert (
            appliance.wait_task(client, client.post("/api/v1/vcenters", json=VCENTER).json()["id"])[
                "status"
            ]
            == "succeeded"
        )

    def burst(count: int) -> list[int]:
        with appliance.client() as client:
            statuses = []
            started = time.monotonic()
            for index in range(count):
                # A fixed schedule: request i goes out at i / rate seconds.
                delay = started + index / (rate / 4) - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                statuses.append(client.get(paths[index % len(paths)]).status_code)
            return statuses

    per_worker = int(seconds * rate / 4)
    warm = burst(50)
    assert set(warm) == {200}
    baseline = rss_kb(appliance.process.pid)
    with ThreadPoolExecutor(4) as pool:
        results: list[Any] = [
            status for batch in pool.map(burst, [per_worker] * 4) for status in batch
        ]
    grown = rss_kb(appliance.process.pid) - baseline
    assert set(results) == {200}, {s: results.count(s) for s in set(results)}
    assert len(results) == per_worker * 4
    assert grown < 40 * 1024, f"RSS grew {grown} kB over the soak"
