from __future__ import annotations

from tests.conftest import Appliance

VCENTER_ORIGIN = "https://vcsa-01.protected.local"


async def test_only_the_registered_vcenter_origin_is_allowed(registered: Appliance) -> None:
    client = registered.client
    preflight = await client.options(
        "/api/v1/clusters",
        headers={
            "origin": VCENTER_ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": "x-jetdr-session",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == VCENTER_ORIGIN
    assert "x-jetdr-session" in preflight.headers["access-control-allow-headers"]
    simple = await client.get("/api/v1/clusters", headers={"origin": VCENTER_ORIGIN})
    assert simple.headers["access-control-allow-origin"] == VCENTER_ORIGIN
    assert "x-op-id" in simple.headers["access-control-expose-headers"]
    stranger = await client.get("/api/v1/clusters", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in stranger.headers


async def test_origin_is_dropped_when_the_vcenter_is_unregistered(registered: Appliance) -> None:
    client = registered.client
    vcenter_id = (await client.get("/api/v1/vcenters")).json()["items"][0]["id"]
    task = (await client.delete(f"/api/v1/vcenters/{vcenter_id}")).json()
    await registered.wait_task(task["id"])
    after = await client.get("/api/v1/clusters", headers={"origin": VCENTER_ORIGIN})
    assert "access-control-allow-origin" not in after.headers


async def test_no_vcenter_no_cors(appliance: Appliance) -> None:
    response = await appliance.client.get("/api/v1/sites", headers={"origin": VCENTER_ORIGIN})
    assert "access-control-allow-origin" not in response.headers
