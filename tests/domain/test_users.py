from __future__ import annotations

import httpx

from tests.conftest import Appliance, add_user


async def test_create_read_update_delete_user(appliance: Appliance) -> None:
    client = appliance.client
    created = await client.post(
        "/api/v1/users",
        json={
            "username": "iofrest",
            "role": "operator",
            "password": "Secr3t-pass",
            "description": "REST",
        },
    )
    assert created.status_code == 201
    user = created.json()
    assert user["role"] == "operator" and user["builtin"] is False
    assert "password" not in user and "password_hash" not in user
    listed = (await client.get("/api/v1/users", params={"role": "operator"})).json()
    assert [u["username"] for u in listed["items"]] == ["iofrest"]
    patched = await client.patch(f"/api/v1/users/{user['id']}", json={"role": "viewer"})
    assert patched.json()["role"] == "viewer"
    assert (await client.delete(f"/api/v1/users/{user['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/users/{user['id']}")).status_code == 404
    actions = [
        e["action"]
        for e in (await client.get("/api/v1/events", params={"entity_id": user["id"]})).json()[
            "items"
        ]
    ]
    assert actions == ["user.created", "user.updated", "user.deleted"]


async def test_duplicate_username_is_409(appliance: Appliance) -> None:
    await add_user(appliance.client, "dup", "viewer")
    again = await appliance.client.post(
        "/api/v1/users", json={"username": "dup", "role": "admin", "password": "Another-pass1"}
    )
    assert again.status_code == 409
    assert again.json()["error_code"] == "already_exists"


async def test_root_is_protected(appliance: Appliance) -> None:
    client = appliance.client
    root = (await client.get("/api/v1/users", params={"role": "admin"})).json()["items"][0]
    assert root["username"] == "root" and root["builtin"] is True
    assert (await client.delete(f"/api/v1/users/{root['id']}")).status_code == 409
    demote = await client.patch(f"/api/v1/users/{root['id']}", json={"role": "viewer"})
    assert demote.status_code == 409


async def test_password_change_takes_effect_at_once(appliance: Appliance) -> None:
    username, password = await add_user(appliance.client, "changer", "viewer")
    transport = httpx.ASGITransport(app=appliance.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://msa.test") as client:
        me = (await client.get("/api/v1/session", auth=(username, password))).json()["user"]
        other = (await client.post("/api/v1/session", auth=(username, password))).json()
        without_current = await client.patch(
            f"/api/v1/users/{me['id']}",
            json={"password": "Brand-new-pass"},
            auth=(username, password),
        )
        assert without_current.status_code == 422
        assert without_current.json()["error_code"] == "current_password_required"
        changed = await client.patch(
            f"/api/v1/users/{me['id']}",
            json={"password": "Brand-new-pass", "current_password": password},
            auth=(username, password),
        )
        assert changed.status_code == 200
        # The session opened with the old password ended with it.
        ended = await client.get("/api/v1/sites", headers={"x-jetdr-session": other["session_id"]})
        assert ended.status_code == 401
        assert (await client.get("/api/v1/sites", auth=(username, password))).status_code == 401
        assert (
            await client.get("/api/v1/sites", auth=(username, "Brand-new-pass"))
        ).status_code == 200
        escalate = await client.patch(
            f"/api/v1/users/{me['id']}", json={"role": "admin"}, auth=(username, "Brand-new-pass")
        )
        assert escalate.status_code == 403


async def test_weak_or_malformed_users_are_422(appliance: Appliance) -> None:
    for body in (
        {"username": "short", "role": "viewer", "password": "123"},
        {"username": "bad name", "role": "viewer", "password": "Long-enough-1"},
        {"username": "x", "role": "superuser", "password": "Long-enough-1"},
    ):
        response = await appliance.client.post("/api/v1/users", json=body)
        assert response.status_code == 422, body
