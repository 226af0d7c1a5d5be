"""The emulator's edges that must hold the calendar and the data (issue 13, item 6): the
clock keeps to a sane range, a snapshot load is all or nothing and refreshes what the process
holds, and a data directory that cannot be trusted stops the start."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.cli import main as msa_main
from app.main import create_app
from tests.conftest import Appliance, backend, start_appliance


async def test_the_clock_keeps_to_the_calendar(appliance: Appliance) -> None:
    client = appliance.client
    for moment in ("9999-12-31T00:00:00Z", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00"):
        refused = await client.put("/_emulator/clock", json={"now": moment})
        assert refused.status_code == 422, (moment, refused.text)
    near_end = await client.put(
        "/_emulator/clock", json={"mode": "manual", "now": "2199-12-31T00:00:00Z"}
    )
    assert near_end.status_code == 200, near_end.text
    beyond = await client.post("/_emulator/clock/advance", json={"seconds": 3 * 86400})
    assert beyond.status_code == 422
    assert beyond.json()["error_code"] == "clock_out_of_range"
    # Every route still answers: nothing left the calendar.
    assert (await client.get("/api/v1/tasks")).status_code == 200
    assert (await client.post("/api/v1/session")).status_code in (200, 201)
    assert (await client.post("/_emulator/reset")).status_code == 200


async def test_a_bad_snapshot_changes_nothing(appliance: Appliance, tmp_path: Path) -> None:
    client = appliance.client
    assert (await client.post("/_emulator/state/save", json={"name": "good"})).status_code == 201
    directory = appliance.container.platform.settings.data_dir / "snapshots"
    body = json.loads((directory / "good.json").read_bytes())
    broken_rows = json.loads(json.dumps(body))
    broken_rows["tables"]["storage_site"] = [{"id": "ss-x"}]  # lacks every required column
    broken_clock = json.loads(json.dumps(body))
    broken_clock["clock"]["now"] = "9999-12-31T00:00:00+00:00"
    broken_types = json.loads(json.dumps(body))
    broken_types["tables"]["event"] = [{**body["tables"]["event"][0], "at": "yesterday"}]
    for name, bad in (("rows", broken_rows), ("clock", broken_clock), ("types", broken_types)):
        (directory / f"{name}.json").write_text(json.dumps(bad))

    created = await client.post(
        "/api/v1/storage-sites",
        json={"name": "kept", "type": "local", "path": str(tmp_path / "kept")},
    )
    assert created.status_code == 201
    for name in ("rows", "clock", "types"):
        refused = await client.post("/_emulator/state/load", json={"name": name})
        assert refused.status_code == 422, (name, refused.text)
        assert refused.json()["error_code"] == "snapshot_invalid"
        kept = (await client.get("/api/v1/storage-sites")).json()["items"]
        assert [site["name"] for site in kept] == ["kept"], name


async def test_a_load_refreshes_the_site_the_process_holds(appliance: Appliance) -> None:
    client = appliance.client
    assert (await client.post("/_emulator/state/save", json={"name": "before"})).status_code == 201
    renamed = await client.patch("/api/v1/appliance", json={"site_name": "renamed"})
    assert renamed.status_code == 200
    assert (await client.get("/api/v1/status")).json()["site"]["name"] == "renamed"
    assert (await client.post("/_emulator/state/load", json={"name": "before"})).status_code == 200
    assert (await client.get("/api/v1/status")).json()["site"]["name"] == "protected"


async def test_a_load_after_a_reset_brings_cors_back(registered: Appliance) -> None:
    client = registered.client
    origin = "https://vcsa-01.protected.local"
    assert (await client.post("/_emulator/state/save", json={"name": "reg"})).status_code == 201
    assert (await client.post("/_emulator/reset")).status_code == 200
    before = await client.options(
        "/api/v1/sites",
        headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
    )
    assert before.headers.get("access-control-allow-origin") != origin
    assert (await client.post("/_emulator/state/load", json={"name": "reg"})).status_code == 200
    after = await client.options(
        "/api/v1/sites",
        headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
    )
    assert after.headers.get("access-control-allow-origin") == origin


def _migrate(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = msa_main(["migrate", "--data-dir", str(data_dir)])
    return code, capsys.readouterr().err


@pytest.mark.skipif(backend() != "sqlite", reason="a database file is SQLite's")
def test_an_empty_or_corrupt_database_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JETDR_DB__URL", raising=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "jetdr.db").write_bytes(b"")
    code, error = _migrate(empty, capsys)
    assert code == 1 and "is empty (0 bytes)" in error, error
    assert (empty / "jetdr.db").stat().st_size == 0, "the empty file was turned into a database"

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "jetdr.db").write_bytes(b"this is not SQLite at all " * 200)
    code, error = _migrate(corrupt, capsys)
    assert code == 1 and "not a readable SQLite database" in error, error
    assert "Traceback" not in error


@pytest.mark.skipif(backend() != "sqlite", reason="one data directory with its SQLite file")
def test_a_lost_secret_key_stops_the_start(
    registered: Appliance, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    """The registered vCenter's password is encrypted with the data dir's key: without that
    key the appliance refuses to start instead of making a new one."""
    monkeypatch.delenv("JETDR_DB__URL", raising=False)
    data_dir = tmp_path / "copy"
    data_dir.mkdir()
    source = registered.container.platform.settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(source) as live, sqlite3.connect(data_dir / "jetdr.db") as copy:
        live.backup(copy)
    key = registered.container.platform.settings.data_dir / "secret.key"
    code, error = _migrate(data_dir, capsys)
    assert code == 1 and "secret.key is missing" in error, error
    assert not (data_dir / "secret.key").exists(), "a new key was written over the secrets"

    (data_dir / "secret.key").write_text("A" * 43 + "=")
    code, error = _migrate(data_dir, capsys)
    assert code == 1 and "does not open the secrets" in error, error

    shutil.copy(key, data_dir / "secret.key")
    code, error = _migrate(data_dir, capsys)
    assert code == 0, error


async def test_the_emulator_can_be_turned_off(make_settings: Any) -> None:
    async with start_appliance(make_settings(emulator={"enabled": False})) as appliance:
        client = appliance.client
        for method, path in (
            ("GET", "/_emulator/health"),
            ("POST", "/_emulator/reset"),
            ("GET", "/_emulator/openapi.json"),
            ("PUT", "/_emulator/clock"),
        ):
            answer = await client.request(method, path, json={})
            assert answer.status_code == 404, (method, path)
        document = (await client.get("/openapi.json")).json()
        assert not [path for path in document["paths"] if path.startswith("/_emulator")]
        assert (await client.get("/api/v1/sites")).status_code == 200


async def test_a_failed_start_shows_no_database_internals(
    make_settings: Any, tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not SQLite at all " * 200)
    app = create_app(make_settings(db={"url": f"sqlite:///{corrupt}"}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://msa.test") as client:
            for _ in range(500):
                status = (await client.get("/api/v1/status")).json()
                if status["status"] != "starting":
                    break
                await asyncio.sleep(0.01)
    assert status["status"] == "degraded"
    assert "database" in status["reason"]
    for internal in ("sqlite", "SELECT", str(tmp_path), "file is not a database"):
        assert internal not in status["reason"], status["reason"]
