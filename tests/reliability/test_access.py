"""Every route of both OpenAPI documents, enumerated: without credentials 401 (but the few
public ones), and every write as a viewer 403 (but what a viewer may do to itself)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Appliance, add_user

PUBLIC = {
    ("GET", "/api/v1/status"),
    ("GET", "/api/v1/about"),
    ("POST", "/api/v1/session"),
    ("GET", "/plugin/plugin.json"),
    ("GET", "/iofilter/{file_name}"),
    ("GET", "/_emulator/health"),
    ("GET", "/ui/"),
}
# Writes a viewer makes about itself: log in and out.
VIEWER_WRITES = {("POST", "/api/v1/session"), ("DELETE", "/api/v1/session")}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}

pytestmark = pytest.mark.reliability


async def operations(appliance: Appliance) -> list[tuple[str, str]]:
    spec = (await appliance.client.get("/openapi.json")).json()
    emulator = (await appliance.client.get("/_emulator/openapi.json")).json()
    found = [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops]
    found += [(m.upper(), f"/_emulator{p}") for p, ops in emulator["paths"].items() for m in ops]
    return found


def concrete(path: str) -> str:
    return path.replace("{", "x-").replace("}", "")


def client_of(appliance: Appliance, auth: Any = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=appliance.app), base_url="https://msa.test", auth=auth
    )


async def test_every_operation_needs_credentials_and_writes_need_a_role(
    appliance: Appliance,
) -> None:
    found = await operations(appliance)
    assert len(found) > 80
    viewer = await add_user(appliance.client, "onlooker", "viewer")
    unauthenticated, forbidden = 0, 0
    async with client_of(appliance) as anonymous, client_of(appliance, viewer) as looking:
        for method, path in found:
            if (method, path) in PUBLIC:
                continue
            response = await anonymous.request(method, concrete(path), json={})
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.headers["www-authenticate"].startswith("Basic")
            unauthenticated += 1
            if method in WRITES and (method, path) not in VIEWER_WRITES:
                response = await looking.request(method, concrete(path), json={})
                assert response.status_code == 403, (method, path, response.status_code)
                assert response.json()["error_code"] == "forbidden"
                forbidden += 1
    assert unauthenticated > 80 and forbidden > 40
