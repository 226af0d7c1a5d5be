from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.conftest import Appliance, add_user, start_appliance, wipe


async def test_clock_controls(appliance: Appliance) -> None:
    client = appliance.client
    manual = (await client.put("/_emulator/clock", json={"mode": "manual"})).json()
    assert manual["mode"] == "manual"
    advanced = (await client.post("/_emulator/clock/advance", json={"seconds": 3600})).json()
    before = dt.datetime.fromisoformat(manual["now"])
    after = dt.datetime.fromisoformat(advanced["now"])
    assert dt.timedelta(seconds=3599) < after - before < dt.timedelta(seconds=3601)
    backwards = await client.put("/_emulator/clock", json={"now": manual["now"]})
    assert backwards.status_code == 422
    assert backwards.json()["error_code"] == "clock_backwards"
    assert (await client.post("/_emulator/clock/advance", json={"seconds": -5})).status_code == 422
    scaled = (await client.put("/_emulator/clock", json={"mode": "scaled", "scale": 60})).json()
    assert scaled["mode"] == "scaled" and scaled["scale"] == 60


async def test_emulator_controls_are_admin_only_except_health(appliance: Appliance) -> None:
    viewer = await add_user(appliance.client, "watcher", "viewer")
    transport = httpx.ASGITransport(app=appliance.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://msa.test") as client:
        assert (await client.get("/_emulator/health")).json()["status"] == "ok"
        assert (await client.post("/_emulator/reset", auth=viewer)).status_code == 403
        assert (await client.get("/_emulator/clock", auth=viewer)).status_code == 403


async def test_reset_returns_to_the_seeded_state(registered: Appliance) -> None:
    client = registered.client
    await add_user(client, "keeper", "operator")
    response = await client.post("/_emulator/reset")
    assert response.status_code == 200 and response.json()["reset"] is True
    assert (await client.get("/api/v1/vcenters")).json()["_meta"]["total"] == 0
    assert (await client.get("/api/v1/tasks")).json()["_meta"]["total"] == 0
    assert (await client.get("/api/v1/clusters")).json()["_meta"]["total"] == 0
    assert (await registered.simulator.state()).extensions == {}
    users = [u["username"] for u in (await client.get("/api/v1/users")).json()["items"]]
    assert users == ["keeper", "root"]
    assert (await client.get("/api/v1/sites")).json()["_meta"]["total"] == 1
    task = await registered.register_vcenter()
    assert task["status"] == "succeeded"


async def test_foreign_keys_are_enforced_after_a_reset(registered: Appliance) -> None:
    """The reset empties SQLite's tables with its foreign keys off: every pooled connection
    must enforce them again afterwards."""
    assert (await registered.client.post("/_emulator/reset")).status_code == 200
    orphan = text(
        "INSERT INTO protected_vm (id, domain_id, replica_key, name, protection_mode, status, "
        "disks, sync_total_bytes, sync_remaining_bytes, added_at) VALUES (:id, 'pd-none', "
        "'k', 'n', 'write_through', 'protected', '[]', 0, 0, CURRENT_TIMESTAMP)"
    )
    engine = registered.container.platform.engine
    async with contextlib.AsyncExitStack() as stack:
        connections = [await stack.enter_async_context(engine.connect()) for _ in range(5)]
        for index, connection in enumerate(connections):
            with pytest.raises(IntegrityError):
                await connection.execute(orphan, {"id": f"pvm-orphan{index}"})
            await connection.rollback()


async def test_a_seed_makes_ids_deterministic_and_a_reset_continues_them(
    make_settings: Any, tmp_path: Path
) -> None:
    runs = []
    for run in range(2):
        settings = make_settings(seed=7, data_dir=tmp_path / f"run-{run}")
        async with start_appliance(settings) as appliance:
            made = []
            for _ in range(2):
                task = await appliance.register_vcenter()
                clusters = (await appliance.client.get("/api/v1/clusters")).json()["items"]
                made.append((task["id"], task["entity"]["id"], [c["id"] for c in clusters]))
                assert (await appliance.client.post("/_emulator/reset")).status_code == 200
            assert made[0] != made[1], "a reset repeated the ids made before it"
            runs.append(made)
        wipe(settings.database_url)  # the second run starts from a fresh database too
    assert runs[0] == runs[1]
