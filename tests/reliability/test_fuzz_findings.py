"""What schema-driven fuzzing found once, kept as regressions: each was a 500."""

from __future__ import annotations

import pytest

from tests.conftest import Appliance

pytestmark = pytest.mark.reliability


async def test_a_huge_offset_is_a_422(appliance: Appliance) -> None:
    response = await appliance.client.get(
        "/api/v1/hosts", params={"offset": 115350719290634745321575415808}
    )
    assert response.status_code == 422, response.text


async def test_appliance_settings_with_empty_lists(appliance: Appliance) -> None:
    response = await appliance.client.patch(
        "/api/v1/appliance",
        json={"dns": [], "hostname": "0", "ntp": [], "site_name": None, "subscription_id": "0"},
    )
    assert response.status_code < 500, response.text


async def test_a_peer_url_with_an_impossible_host_is_a_422(appliance: Appliance) -> None:
    response = await appliance.client.post(
        "/api/v1/sites",
        json={
            "url": "https://" + "0" * 600 + "/",
            "username": "0",
            "password": "x",
            "certificate_sha256": "0" * 64,
        },
    )
    assert response.status_code == 422, response.text


async def test_an_s3_endpoint_that_cannot_exist_is_a_422(appliance: Appliance) -> None:
    response = await appliance.client.post(
        "/api/v1/storage-sites",
        json={
            "access_key": "secret-key-0",
            "account_name": "0",
            "bucket_prefix": "jetdr",
            "endpoint": "http://0",
            "name": "0",
            "type": "s3",
            "region": "00",
        },
    )
    assert response.status_code == 422, response.text


async def test_a_peer_url_that_does_not_parse_is_a_422(appliance: Appliance) -> None:
    for url in ("https://el-0]:0105", "https://host:99999", "https://" + "a" * 64 + ".example"):
        response = await appliance.client.post(
            "/api/v1/sites", json={"url": url, "username": "root", "password": "x"}
        )
        assert response.status_code == 422, (url, response.text)


async def test_a_nul_character_is_refused_at_the_edge(appliance: Appliance) -> None:
    """PostgreSQL cannot store NUL, SQLite paths cannot hold it: 422 before any SQL, on both
    databases (issue 14, item 3)."""
    client = appliance.client
    bodies = [
        (
            "POST",
            "/api/v1/users",
            {"username": "a\x00b", "role": "viewer", "password": "Passw0rd!x"},
        ),
        (
            "POST",
            "/api/v1/users",
            {"username": "ab", "role": "viewer", "password": "Passw0rd!x", "description": "\x00"},
        ),
        ("PATCH", "/api/v1/appliance", {"site_name": "a\x00b"}),
        ("POST", "/api/v1/storage-sites", {"name": "s", "type": "local", "path": "/tmp/a\x00b"}),
        ("POST", "/api/v1/session", {"username": "root\x00", "password": "x"}),
    ]
    for method, path, body in bodies:
        answer = await client.request(method, path, json=body)
        assert answer.status_code == 422, (path, body, answer.text)
        assert answer.json()["error_code"] == "validation_error"
    for path in ("/api/v1/users/a%00b", "/api/v1/vms?name=a%00b", "/api/v1/events?actor=%00"):
        answer = await client.get(path)
        assert answer.status_code == 422, (path, answer.text)
    nul_login = await client.get("/api/v1/sites", auth=("ro\x00ot", "x"))
    assert nul_login.status_code == 401


async def test_a_failed_login_as_nobody_is_listed_among_the_events(appliance: Appliance) -> None:
    """Found by the fuzzer in this change's own CI run: the event of a failed login as an
    unknown username named a user entity without an id, and listing it was a 500."""
    failed = await appliance.client.post(
        "/api/v1/session", json={"username": "nobody", "password": "wrong"}
    )
    assert failed.status_code == 401
    listed = await appliance.client.get(
        "/api/v1/events", params={"action": "session.login_failed", "sort_by": "action"}
    )
    assert listed.status_code == 200, listed.text
    [event] = listed.json()["items"]
    assert (event["actor"], event["entity"], event["details"]["known_user"]) == (
        "nobody",
        None,
        False,
    )
