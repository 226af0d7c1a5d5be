"""Saved states, the request journal and `/metrics`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Appliance, start_appliance

READS = [
    "/api/v1/vcenters",
    "/api/v1/clusters",
    "/api/v1/vms?limit=100",
    "/api/v1/storage-sites",
    "/api/v1/protection-domains",
    "/api/v1/tasks?limit=100",
    "/api/v1/events?limit=200",
    "/api/v1/alarms",
    "/_emulator/clock",
]


async def answers(client: httpx.AsyncClient) -> dict[str, Any]:
    found = {}
    for path in READS:
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text)
        found[path] = response.json()
    return found


async def drive(appliance: Appliance, task_id: str) -> dict[str, Any]:
    """Run a task to its end on a manual clock."""
    for _ in range(500):
        task: dict[str, Any] = (await appliance.client.get(f"/api/v1/tasks/{task_id}")).json()
        if task["status"] in ("succeeded", "failed", "cancelled"):
            return task
        await appliance.client.post(
            "/_emulator/clock/advance", json={"seconds": 30, "settle": False}
        )
    raise AssertionError(f"task {task_id} did not finish")


async def test_save_change_and_load_answers_exactly_as_before(
    registered: Appliance, tmp_path: Path
) -> None:
    client = registered.client
    assert (await client.put("/_emulator/clock", json={"mode": "manual"})).status_code == 200
    before = await answers(client)
    saved = await client.post("/_emulator/state/save", json={"name": "registered"})
    assert saved.status_code == 201, saved.text
    assert saved.json()["rows"]["vm"] == 20 and saved.json()["schema"]

    store = {"name": "local", "type": "local", "path": str(tmp_path / "store")}
    assert (await client.post("/api/v1/storage-sites", json=store)).status_code == 201
    cluster = (await client.get("/api/v1/clusters")).json()["items"][0]
    configure = await client.post(f"/api/v1/clusters/{cluster['id']}/actions/configure")
    await drive(registered, configure.json()["id"])
    assert await answers(client) != before

    loaded = await client.post("/_emulator/state/load", json={"name": "registered"})
    assert loaded.status_code == 200, loaded.text
    assert await answers(client) == before
    # The simulated vCenter came back too: the filter is not installed any more.
    again = await client.post(f"/api/v1/clusters/{cluster['id']}/actions/configure")
    assert (await drive(registered, again.json()["id"]))["status"] == "succeeded"


async def test_snapshots_are_named_listed_versioned_and_deleted(appliance: Appliance) -> None:
    client = appliance.client
    assert (await client.post("/_emulator/state/save", json={"name": "a"})).status_code == 201
    exists = await client.post("/_emulator/state/save", json={"name": "a"})
    assert exists.status_code == 409
    replaced = await client.post("/_emulator/state/save", json={"name": "a", "overwrite": True})
    assert replaced.status_code == 201
    assert (await client.post("/_emulator/state/save", json={"name": "../x"})).status_code == 422
    assert (await client.post("/_emulator/state/load", json={"name": "nope"})).status_code == 404
    listed = (await client.get("/_emulator/state/snapshots")).json()
    assert [s["name"] for s in listed] == ["a"]

    path = appliance.container.platform.settings.data_dir / "snapshots" / "a.json"
    body = json.loads(path.read_bytes())
    body["schema"] = "0001"
    (path.parent / "old.json").write_text(json.dumps(body))
    old = await client.post("/_emulator/state/load", json={"name": "old"})
    assert old.status_code == 409
    assert old.json()["error_code"] == "snapshot_incompatible"
    assert "schema 0001" in old.json()["message"]
    (path.parent / "junk.json").write_text("{not json")
    junk = await client.post("/_emulator/state/load", json={"name": "junk"})
    assert junk.status_code == 409
    assert (await client.delete("/_emulator/state/snapshots/a")).status_code == 204
    assert (await client.delete("/_emulator/state/snapshots/a")).status_code == 404


async def test_the_request_journal_is_bounded_and_filtered(make_settings: Any) -> None:
    async with start_appliance(make_settings(journal_size=5)) as appliance:
        client = appliance.client
        for _ in range(4):
            await client.get("/api/v1/vcenters")
        await client.get("/api/v1/nothing-here")
        journal = (await client.get("/_emulator/requests")).json()
        assert len(journal) == 5
        missing = (await client.get("/_emulator/requests", params={"status": 404})).json()
        assert [e["path"] for e in missing] == ["/api/v1/nothing-here"]
        listed = (
            await client.get("/_emulator/requests", params={"path_prefix": "/api/v1/vcenters"})
        ).json()
        assert listed and {e["route"] for e in listed} == {"/api/v1/vcenters"}
        assert all(e["op_id"].startswith("op-") and e["duration_ms"] >= 0 for e in listed)
        assert (await client.delete("/_emulator/requests")).status_code == 204
        assert len((await client.get("/_emulator/requests")).json()) == 1


async def test_metrics_in_prometheus_format(registered: Appliance) -> None:
    client = registered.client
    transport = httpx.ASGITransport(app=registered.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://msa.test") as anonymous:
        assert (await anonymous.get("/metrics")).status_code == 401
    await client.get("/api/v1/vcenters")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'jetdr_http_requests_total{method="GET",route="/api/v1/vcenters",status="200"}' in text
    assert (
        'jetdr_http_request_duration_seconds_bucket{method="GET",route="/api/v1/vcenters",le="+Inf"}'
        in text
    )
    assert 'jetdr_tasks{type="register_vcenter",status="succeeded"} 1' in text
    assert "jetdr_up 1" in text
    for line in text.splitlines():
        assert line.startswith("#") or len(line.rsplit(" ", 1)) == 2, line
