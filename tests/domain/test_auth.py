from __future__ import annotations

import datetime as dt

import httpx
import pytest

from tests.conftest import ROOT_PASSWORD, VCENTER, Appliance, add_user

PUBLIC = {
    ("GET", "/api/v1/status"),
    ("GET", "/api/v1/about"),
    ("POST", "/api/v1/session"),
    # fetched by vCenter and ESXi, which hold no appliance credentials
    ("GET", "/plugin/plugin.json"),
    ("GET", "/iofilter/{file_name}"),
}


def anonymous(appliance: Appliance) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=appliance.app), base_url="https://msa.test"
    )


async def test_every_route_but_the_public_ones_needs_authentication(appliance: Appliance) -> None:
    spec = (await appliance.client.get("/openapi.json")).json()
    checked = 0
    async with anonymous(appliance) as client:
        for path, operations in spec["paths"].items():
            for method in operations:
                if (method.upper(), path) in PUBLIC:
                    continue
                concrete = path.replace("{", "").replace("}", "")
                response = await client.request(method.upper(), concrete, json={})
                assert response.status_code == 401, (method, path, response.status_code)
                assert response.json()["error_code"] == "not_authenticated"
                checked += 1
        for method, path in [("POST", "/_emulator/reset"), ("GET", "/_emulator/clock")]:
            assert (await client.request(method, path)).status_code == 401
    assert checked > 20


async def test_public_status_and_about(appliance: Appliance) -> None:
    async with anonymous(appliance) as client:
        status = (await client.get("/api/v1/status")).json()
        about = (await client.get("/api/v1/about")).json()
    assert status["status"] == "ready"
    assert status["site"]["name"] == "protected"
    assert about["emulator"] is True
    assert about["api_versions"] == ["v1"]


async def test_wrong_password_is_401_for_basic_and_login(appliance: Appliance) -> None:
    async with anonymous(appliance) as client:
        basic = await client.get("/api/v1/sites", auth=("root", "nope"))
        login = await client.post("/api/v1/session", json={"username": "root", "password": "nope"})
        ghost = await client.post("/api/v1/session", auth=("ghost", "nope"))
    for response in (basic, login, ghost):
        assert response.status_code == 401
        assert response.json()["error_code"] == "invalid_credentials"
    assert "www-authenticate" in basic.headers


async def test_session_by_header_or_bearer_then_logout(appliance: Appliance) -> None:
    async with anonymous(appliance) as client:
        login = await client.post("/api/v1/session", auth=("root", ROOT_PASSWORD))
        assert login.status_code == 201
        body = login.json()
        token = body["session_id"]
        assert body["user"]["username"] == "root"
        assert "password" not in body["user"] and "password_hash" not in body["user"]
        by_header = await client.get("/api/v1/session", headers={"x-jetdr-session": token})
        assert by_header.status_code == 200
        assert by_header.json()["user"]["role"] == "admin"
        bearer = {"authorization": f"Bearer {token}"}
        assert (await client.get("/api/v1/sites", headers=bearer)).status_code == 200
        assert (await client.delete("/api/v1/session", headers=bearer)).status_code == 204
        after = await client.get("/api/v1/sites", headers=bearer)
        assert after.status_code == 401
        assert after.json()["error_code"] == "session_expired"


async def test_json_login_and_sessions_survive_a_cache_flush(appliance: Appliance) -> None:
    async with anonymous(appliance) as client:
        login = await client.post(
            "/api/v1/session", json={"username": "root", "password": ROOT_PASSWORD}
        )
        token = login.json()["session_id"]
        appliance.container.auth_cache.clear()
        response = await client.get("/api/v1/sites", headers={"x-jetdr-session": token})
    assert response.status_code == 200


async def test_idle_session_expires(appliance: Appliance) -> None:
    async with anonymous(appliance) as client:
        token = (await client.post("/api/v1/session", auth=("root", ROOT_PASSWORD))).json()[
            "session_id"
        ]
        for live in appliance.container.auth_cache.sessions.values():
            live.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        response = await client.get("/api/v1/sites", headers={"x-jetdr-session": token})
    assert response.status_code == 401
    assert response.json()["error_code"] == "session_expired"


@pytest.mark.parametrize("role", ["viewer", "operator"])
async def test_roles_below_admin_cannot_register_or_manage_users(
    appliance: Appliance, role: str
) -> None:
    credentials = await add_user(appliance.client, f"{role}1", role)
    async with anonymous(appliance) as client:
        register = await client.post("/api/v1/vcenters", json=VCENTER, auth=credentials)
        assert register.status_code == 403
        assert register.json()["error_code"] == "forbidden"
        users = await client.get("/api/v1/users", auth=credentials)
        assert users.status_code == 403
        assert (await client.get("/api/v1/sites", auth=credentials)).status_code == 200
    assert (await appliance.client.get("/api/v1/vcenters")).json()["_meta"]["total"] == 0


async def test_viewer_cannot_act_but_operator_can(registered: Appliance) -> None:
    viewer = await add_user(registered.client, "viewer2", "viewer")
    operator = await add_user(registered.client, "operator2", "operator")
    vcenter_id = (await registered.client.get("/api/v1/vcenters")).json()["items"][0]["id"]
    path = f"/api/v1/vcenters/{vcenter_id}/actions/refresh-inventory"
    async with anonymous(registered) as client:
        assert (await client.post(path, auth=viewer)).status_code == 403
        accepted = await client.post(path, auth=operator)
    assert accepted.status_code == 202
    assert accepted.json()["created_by"] == "operator2"
