"""Error envelope, op ids, pagination and the start-up gate, as API.md fixes them."""

from __future__ import annotations

import httpx

from app.domain.platform import ApplianceStatus
from tests.conftest import Appliance, add_user

ENVELOPE_KEYS = {"error_code", "message", "op_id", "details", "field_errors"}


async def test_every_response_carries_an_op_id_and_errors_repeat_it(
    client: httpx.AsyncClient,
) -> None:
    ok = await client.get("/api/v1/sites")
    assert ok.headers["x-op-id"].startswith("op-")
    missing = await client.get("/api/v1/tasks/task-doesnotexist")
    assert missing.status_code == 404
    body = missing.json()
    assert set(body) == ENVELOPE_KEYS
    assert body["error_code"] == "not_found"
    assert body["op_id"] == missing.headers["x-op-id"]
    assert ok.headers["x-op-id"] != missing.headers["x-op-id"]


async def test_unknown_route_and_wrong_method_use_the_envelope(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/api/v1/nothing-here")
    assert unknown.status_code == 404
    assert unknown.json()["error_code"] == "not_found"
    wrong = await client.put("/api/v1/sites")
    assert wrong.status_code == 405
    assert wrong.json()["error_code"] == "method_not_allowed"


async def test_malformed_json_is_422_in_the_envelope(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/vcenters",
        content=b'{"hostname": "vcsa-01.protected.local", ',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error_code"] == "malformed_json"
    assert set(response.json()) == ENVELOPE_KEYS


async def test_invalid_fields_are_listed_by_name(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/vcenters", json={"hostname": "vc", "port": 70000, "username": "", "surprise": 1}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error_code"] == "validation_error"
    fields = {error["field"] for error in body["field_errors"]}
    assert {"port", "username", "password", "surprise"} <= fields


async def test_pagination_meta_limits_and_sorting(registered: Appliance) -> None:
    client = registered.client
    first = (await client.get("/api/v1/vms", params={"limit": 5})).json()
    assert first["_meta"] == {"total": 20, "limit": 5, "offset": 0}
    assert len(first["items"]) == 5
    second = (await client.get("/api/v1/vms", params={"limit": 5, "offset": 5})).json()
    assert not {vm["id"] for vm in first["items"]} & {vm["id"] for vm in second["items"]}
    names = [
        vm["name"]
        for vm in (await client.get("/api/v1/vms", params={"order": "desc"})).json()["items"]
    ]
    assert names == sorted(names, reverse=True)
    for params in ({"limit": 0}, {"limit": 1001}, {"offset": -1}, {"order": "sideways"}):
        response = await client.get("/api/v1/vms", params=params)
        assert response.status_code == 422, params
        assert response.json()["error_code"] == "validation_error"
    bad_sort = await client.get("/api/v1/vms", params={"sort_by": "password"})
    assert bad_sort.status_code == 422
    assert bad_sort.json()["field_errors"][0]["field"] == "sort_by"


async def test_api_answers_503_starting_until_boot_finishes(appliance: Appliance) -> None:
    appliance.container.platform.state.status = ApplianceStatus.STARTING
    try:
        status = await appliance.client.get("/api/v1/status")
        assert status.status_code == 503
        assert status.json()["status"] == "starting"
        held = await appliance.client.get("/api/v1/sites")
        assert held.status_code == 503
        assert held.json()["error_code"] == "starting"
        assert (await appliance.client.get("/api/v1/about")).status_code == 200
        assert (await appliance.client.get("/_emulator/health")).status_code == 200
    finally:
        appliance.container.platform.state.status = ApplianceStatus.READY


async def test_openapi_documents_the_api_and_the_emulator_has_its_own(
    appliance: Appliance,
) -> None:
    anonymous = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=appliance.app), base_url="https://msa.test"
    )
    async with anonymous:
        spec = (await anonymous.get("/openapi.json")).json()
        assert (await anonymous.get("/_emulator/openapi.json")).status_code == 401
    viewer = await add_user(appliance.client, "reader", "viewer")
    refused = await appliance.client.get("/_emulator/openapi.json", auth=viewer)
    assert refused.status_code == 403
    emulator_spec = (await appliance.client.get("/_emulator/openapi.json")).json()
    assert "/state/save" in emulator_spec["paths"] and "/faults" in emulator_spec["paths"]
    assert "/api/v1/vcenters" in spec["paths"]
    assert "reconstruction" in spec["info"]["description"]
    assert not any(path.startswith("/_emulator") for path in spec["paths"])
    assert "/clock/advance" in emulator_spec["paths"]


async def test_a_405_allows_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    """One path, a route per method: `Allow` names them all, as the OpenAPI document does."""
    refused = await client.put("/api/v1/users/user-x")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "DELETE, GET, PATCH"
    document = (await client.get("/openapi.json")).json()
    assert set(document["paths"]["/api/v1/users/{user_id}"]) == {"get", "patch", "delete"}


async def test_json_booleans_and_numbers_are_not_coerced(client: httpx.AsyncClient) -> None:
    for body in (
        {"hostname": "vc", "username": "u", "password": "p", "register_with_ip": 0},
        {"hostname": "vc", "username": "u", "password": "p", "port": "443"},
        {"hostname": "vc", "username": "u", "password": "p", "port": True},
    ):
        refused = await client.post("/api/v1/vcenters", json=body)
        assert refused.status_code == 422, body
        assert refused.json()["error_code"] == "validation_error"


async def test_every_error_status_is_documented_with_the_envelope(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    assert set(document["components"]["schemas"]["ErrorEnvelope"]["required"]) == ENVELOPE_KEYS
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            errors = {code for code in operation["responses"] if code >= "400"}
            assert "500" in errors, (method, path)
            if path not in ("/api/v1/status", "/api/v1/about", "/plugin/plugin.json", "/ui/"):
                assert "401" in errors, (method, path)
            if "{" in path:
                assert "404" in errors, (method, path)
            for code in errors - ({"503"} if path == "/api/v1/status" else set()):
                body = operation["responses"][code]["content"]["application/json"]["schema"]
                assert body == envelope, (method, path, code)
    session = document["paths"]["/api/v1/session"]["delete"]["responses"]
    assert "409" in session  # a logout without a session
