from __future__ import annotations

from sqlalchemy import select

from app.api.models import IdempotencyRecord
from tests.conftest import Appliance


async def test_replayed_key_returns_the_original_task(registered: Appliance) -> None:
    client = registered.client
    vcenter_id = (await client.get("/api/v1/vcenters")).json()["items"][0]["id"]
    path = f"/api/v1/vcenters/{vcenter_id}/actions/refresh-inventory"
    first = await client.post(path, headers={"Idempotency-Key": "refresh-1"})
    assert first.status_code == 202
    replay = await client.post(path, headers={"Idempotency-Key": "refresh-1"})
    assert replay.status_code == 202
    assert replay.json()["id"] == first.json()["id"]
    assert replay.headers["location"] == first.headers["location"]
    assert replay.headers["idempotent-replayed"] == "true"
    await registered.wait_task(first.json()["id"])
    tasks = (await client.get("/api/v1/tasks", params={"type": "refresh_inventory"})).json()
    assert tasks["_meta"]["total"] == 1


async def test_a_key_reused_for_another_request_is_refused(registered: Appliance) -> None:
    client = registered.client
    vcenter_id = (await client.get("/api/v1/vcenters")).json()["items"][0]["id"]
    first = await client.post(
        f"/api/v1/vcenters/{vcenter_id}/actions/refresh-inventory", headers={"Idempotency-Key": "k"}
    )
    assert first.status_code == 202
    other = await client.post(
        f"/api/v1/vcenters/{vcenter_id}/actions/register-plugin", headers={"Idempotency-Key": "k"}
    )
    assert other.status_code == 422
    assert other.json()["error_code"] == "idempotency_key_reused"


async def test_errors_are_replayed_too_but_not_auth_failures(appliance: Appliance) -> None:
    client = appliance.client
    bad = {"hostname": "vcsa-01.protected.local"}
    first = await client.post("/api/v1/vcenters", json=bad, headers={"Idempotency-Key": "v"})
    assert first.status_code == 422
    again = await client.post("/api/v1/vcenters", json=bad, headers={"Idempotency-Key": "v"})
    assert again.status_code == 422
    assert again.headers["idempotent-replayed"] == "true"
    denied = await client.post(
        "/api/v1/vcenters", json=bad, headers={"Idempotency-Key": "w"}, auth=("root", "wrong")
    )
    assert denied.status_code == 401
    async with appliance.container.platform.sessionmaker() as session:
        keys = (await session.scalars(select(IdempotencyRecord.key))).all()
    assert sorted(keys) == ["v"]
