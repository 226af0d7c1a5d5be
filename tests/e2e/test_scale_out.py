"""Two appliance processes on one PostgreSQL database: every task runs exactly once, a killed
process's tasks are taken over by the other, and so is the clock-driven work."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import VCENTER, backend
from tests.e2e.conftest import ServedAppliance
from tests.peers import postgres_database

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]
# Processes sharing a database share the key that encrypts its secrets.
LEASE = {
    "JETDR_TASKS__LEASE_SECONDS": "3",
    "JETDR_SECRET_KEY": "q2Q0b3J3v8xZbS1wWm9hZ0F0cnVsZXNrZXlfa2V5X2s=",
}


@pytest.fixture
def shared_database() -> Iterator[str]:
    if backend() != "postgresql":
        pytest.skip("several processes share a PostgreSQL database (runs in the PostgreSQL pass)")
    with postgres_database() as url:
        yield url


def start_pair(
    serve: Callable[..., ServedAppliance], url: str, **env: str
) -> tuple[ServedAppliance, ServedAppliance]:
    first = serve(name="node-a", JETDR_DB__URL=url, JETDR_NODE_ID="node-a", **LEASE, **env)
    first.start()
    second = serve(name="node-b", JETDR_DB__URL=url, JETDR_NODE_ID="node-b", **LEASE, **env)
    second.start()
    return first, second


def storage_site(appliance: ServedAppliance, path: Path) -> str:
    with appliance.client() as client:
        created = client.post(
            "/api/v1/storage-sites", json={"name": "scratch", "type": "local", "path": str(path)}
        )
        assert created.status_code == 201, created.text
        return str(created.json()["id"])


def submit(appliance: ServedAppliance, site_id: str, count: int) -> list[str]:
    with appliance.client() as client:
        ids = []
        for _ in range(count):
            started = client.post(f"/api/v1/storage-sites/{site_id}/actions/scan-domains")
            assert started.status_code == 202, started.text
            ids.append(str(started.json()["id"]))
        return ids


def wait_all(client: httpx.Client, ids: list[str], timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    pending = set(ids)
    done: dict[str, Any] = {}
    while pending and time.monotonic() < deadline:
        for task_id in list(pending):
            task = client.get(f"/api/v1/tasks/{task_id}").json()
            if task["status"] in ("succeeded", "failed", "cancelled"):
                done[task_id] = task
                pending.discard(task_id)
        time.sleep(0.2)
    assert not pending, f"{len(pending)} tasks did not finish"
    return done


def events(client: httpx.Client, task_id: str) -> list[str]:
    return [e["message"] for e in client.get(f"/api/v1/tasks/{task_id}/events").json()]


def leaders(appliance: ServedAppliance) -> int:
    with appliance.client() as client:
        text = client.get("/metrics").text
    found = re.search(r"^jetdr_scheduler_leader\{[^}]*\} (\S+)$", text, re.MULTILINE)
    assert found is not None
    return int(float(found.group(1)))


def test_two_hundred_tasks_through_two_processes_each_run_once(
    serve: Callable[..., ServedAppliance], shared_database: str, tmp_path: Path
) -> None:
    first, second = start_pair(
        serve, shared_database, JETDR_CLOCK__MODE="scaled", JETDR_CLOCK__SCALE="100"
    )
    site = storage_site(first, tmp_path / "store")
    with ThreadPoolExecutor(2) as pool:
        batches = list(pool.map(lambda a: submit(a, site, 100), (first, second)))
    ids = [task_id for batch in batches for task_id in batch]
    assert len(set(ids)) == 200
    with first.client() as client:
        done = wait_all(client, ids)
        assert {task["status"] for task in done.values()} == {"succeeded"}
        assert {task["attempts"] for task in done.values()} == {1}
        # Both processes took their share.
        assert len({task["owner"] for task in done.values()}) == 2
        for task_id in ids:
            messages = events(client, task_id)
            assert messages.count("started") == 1, messages
            assert messages.count("scan") == 1, messages
    # Exactly one of the two runs the clock-driven work.
    assert leaders(first) + leaders(second) == 1
    # A secret stored through one process is usable by the other (they share the key).
    with first.client() as client:
        registered = client.post("/api/v1/vcenters", json=VCENTER)
        assert first.wait_task(client, registered.json()["id"])["status"] == "succeeded"
        vcenter_id = registered.json()["entity"]["id"]
    with second.client() as client:
        refresh = client.post(f"/api/v1/vcenters/{vcenter_id}/actions/refresh-inventory")
        assert second.wait_task(client, refresh.json()["id"])["status"] == "succeeded"


def test_a_killed_process_s_tasks_and_leadership_go_to_the_other(
    serve: Callable[..., ServedAppliance], shared_database: str, tmp_path: Path
) -> None:
    first, second = start_pair(serve, shared_database)
    assert (leaders(first), leaders(second)) == (1, 0)
    site = storage_site(first, tmp_path / "store")
    with first.client() as client:
        # The first process takes a long time over each scan (a minute of real time).
        slow = client.post(
            "/_emulator/faults",
            json={"target": "scan_domains.scan", "kind": "latency", "delay_ms": 60_000},
        )
        assert slow.status_code == 201
    ids = submit(first, site, 10)
    with second.client() as client:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            running = [
                t
                for t in client.get("/api/v1/tasks", params={"status": "running"}).json()["items"]
                # The survivor takes tasks too (fast, no fault there): only the first's strand.
                if t["id"] in ids and t["owner"] == "node-a"
            ]
            if running:
                break
            time.sleep(0.05)
        assert running, "the first process never started a task"
        stranded = {t["id"] for t in running}
        first.kill()
        done = wait_all(client, ids)
        assert {task["status"] for task in done.values()} == {"succeeded"}
        for task_id in stranded:
            assert any("taken over from" in m for m in events(client, task_id)), task_id
            assert done[task_id]["owner"] == "node-b"
    # The dead process's lease (3 s) runs out, then the survivor's next try (every second)
    # takes it; a loaded machine may take longer than that, so wait for it rather than sleep.
    deadline = time.monotonic() + 30
    while leaders(second) != 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert leaders(second) == 1
