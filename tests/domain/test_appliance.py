from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from app.settings import Settings
from tests.conftest import Appliance, start_appliance


async def test_appliance_read_and_update(appliance: Appliance) -> None:
    client = appliance.client
    info = (await client.get("/api/v1/appliance")).json()
    assert info["hostname"] == "msa.test" and info["site_name"] == "protected"
    patched = await client.patch(
        "/api/v1/appliance",
        json={
            "dns": ["10.0.0.53"],
            "ntp": ["pool.ntp.org"],
            "subscription_id": "sub-1",
            "site_name": "onprem",
        },
    )
    assert patched.status_code == 200
    assert patched.json()["dns"] == ["10.0.0.53"] and patched.json()["site_name"] == "onprem"
    sites = (await client.get("/api/v1/sites")).json()["items"]
    assert [(s["name"], s["role"]) for s in sites] == [("onprem", "local")]
    assert (await client.get("/api/v1/status")).json()["site"]["name"] == "onprem"
    event = (await client.get("/api/v1/events", params={"action": "appliance.updated"})).json()[
        "items"
    ][0]
    assert event["actor"] == "root" and set(event["details"]["fields"]) >= {"dns", "site_name"}


async def test_appliance_update_validation(appliance: Appliance) -> None:
    for body in ({"dns": ["not-an-ip"]}, {"hostname": "bad host"}, {"unknown": 1}):
        response = await appliance.client.patch("/api/v1/appliance", json=body)
        assert response.status_code == 422, body


async def test_local_site_is_named_by_settings(make_settings: Callable[..., Settings]) -> None:
    async with start_appliance(make_settings(site_name="AVS-EastUS")) as appliance:
        sites = (await appliance.client.get("/api/v1/sites")).json()
        assert sites["_meta"]["total"] == 1
        site = sites["items"][0]
        assert site["name"] == "AVS-EastUS" and site["role"] == "local"
        assert (await appliance.client.get(f"/api/v1/sites/{site['id']}")).json() == site
        assert (await appliance.client.get("/api/v1/sites/site-nope")).status_code == 404


async def test_generated_root_password_is_written_once_and_private(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(root_password=None, data_dir=tmp_path / "gen")
    async with start_appliance(settings) as appliance:
        password_file = tmp_path / "gen" / "root-password"
        assert oct(password_file.stat().st_mode & 0o777) == "0o600"
        password = password_file.read_text().strip()
        transport = httpx.ASGITransport(app=appliance.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://msa.test") as client:
            assert (await client.get("/api/v1/sites", auth=("root", password))).status_code == 200


async def test_events_record_who_did_what(registered: Appliance) -> None:
    events = (await registered.client.get("/api/v1/events", params={"order": "asc"})).json()[
        "items"
    ]
    actions = [e["action"] for e in events]
    assert actions[:2] == ["appliance.installed", "user.created"]
    assert "vcenter.register_requested" in actions and "vcenter.registered" in actions
    registered_event = next(e for e in events if e["action"] == "vcenter.registered")
    assert registered_event["actor"] == "root"
    assert registered_event["task_id"] and registered_event["entity"]["type"] == "vcenter"
