"""Scenario files in `JETDR_INIT_DIR`, applied at start while the status says `starting`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from app.main import create_app
from tests.conftest import VCENTER, start_appliance

REGISTER = f"""
- request: POST /api/v1/vcenters
  body: {json.dumps(VCENTER)}
- request: POST /api/v1/users
  body: {{username: automation, role: operator, password: Automation-Passw0rd}}
"""


async def test_scenarios_are_applied_once_before_ready(make_settings: Any, tmp_path: Path) -> None:
    scenarios = tmp_path / "init"
    scenarios.mkdir()
    (scenarios / "10-register.yaml").write_text(REGISTER)
    store = {"name": "store", "type": "local", "path": str(tmp_path / "store")}
    (scenarios / "20-store.json").write_text(
        json.dumps([{"request": "POST /api/v1/storage-sites", "body": store}])
    )
    (scenarios / "notes.txt").write_text("not a scenario")
    settings = make_settings(init_dir=scenarios)
    async with start_appliance(settings) as appliance:
        client = appliance.client
        assert (await client.get("/api/v1/status")).json()["status"] == "ready"
        vcenters = (await client.get("/api/v1/vcenters")).json()["items"]
        assert [v["status"] for v in vcenters] == ["registered"]
        assert (await client.get("/api/v1/clusters")).json()["_meta"]["total"] == 1
        sites = (await client.get("/api/v1/storage-sites")).json()["items"]
        assert [s["name"] for s in sites] == ["store"]
        users = {u["username"] for u in (await client.get("/api/v1/users")).json()["items"]}
        assert "automation" in users
    marker = json.loads((settings.data_dir / "init-applied.json").read_text())
    assert sorted(marker) == ["10-register.yaml", "20-store.json"]
    # A second start with the same data directory does not apply them again.
    async with start_appliance(settings) as appliance:
        assert (await appliance.client.get("/api/v1/status")).json()["status"] == "ready"
        sites = (await appliance.client.get("/api/v1/storage-sites")).json()["items"]
        assert len(sites) == 1


async def test_a_failing_scenario_leaves_the_appliance_degraded_with_the_reason(
    make_settings: Any, tmp_path: Path
) -> None:
    scenarios = tmp_path / "init"
    scenarios.mkdir()
    (scenarios / "10-bad.yaml").write_text(
        "- request: POST /api/v1/storage-sites\n  body: {name: x, type: tape}\n"
    )
    app = create_app(make_settings(init_dir=scenarios))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://msa.test") as client:
            for _ in range(400):
                status = (await client.get("/api/v1/status")).json()
                if status["status"] != "starting":
                    break
                await asyncio.sleep(0.01)
    assert status["status"] == "degraded"
    assert "10-bad.yaml step 1 (POST /api/v1/storage-sites): 422" in status["reason"]
