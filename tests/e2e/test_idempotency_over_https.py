"""`Idempotency-Key` through a served appliance (issue 13, item 3): the race between the answer
and its record only shows over a real socket, not through ASGI transport."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT_PASSWORD

pytestmark = pytest.mark.e2e

RETRIES = 10


def _new_user(client: httpx.Client, name: str, key: str, **kwargs: Any) -> httpx.Response:
    return client.post(
        "/api/v1/users",
        json={"username": name, "role": "viewer", "password": "Passw0rd!x"},
        headers={"Idempotency-Key": key, **kwargs.pop("headers", {})},
        **kwargs,
    )


def test_an_immediate_retry_replays_the_answer(serve: Any) -> None:
    served = serve()
    served.start()
    client = served.client()
    for attempt in range(RETRIES):
        first = _new_user(client, f"user-{attempt}", f"key-{attempt}")
        retry = _new_user(client, f"user-{attempt}", f"key-{attempt}")
        assert first.status_code == 201, first.text
        assert retry.status_code == 201, (attempt, retry.text)
        assert retry.headers["idempotent-replayed"] == "true"
        assert retry.json()["id"] == first.json()["id"]
    listed = client.get("/api/v1/users", params={"limit": 1000}).json()["_meta"]["total"]
    assert listed == RETRIES + 1  # and root


def test_a_key_is_the_users_whatever_credential_they_present(serve: Any) -> None:
    served = serve()
    served.start()
    client = served.client(auth=False)
    login = client.post("/api/v1/session", auth=("root", ROOT_PASSWORD))
    assert login.status_code in (200, 201), login.text
    token = login.json()["session_id"]
    first = _new_user(client, "dave", "by-user", headers={"x-jetdr-session": token})
    assert first.status_code == 201, first.text
    over_basic = _new_user(client, "dave", "by-user", auth=("root", ROOT_PASSWORD))
    assert over_basic.status_code == 201, over_basic.text
    assert over_basic.headers.get("idempotent-replayed") == "true"
    assert over_basic.json()["id"] == first.json()["id"]
    # Another user's same key is theirs alone: no replay of root's answer.
    created = _new_user(client, "erin", "erin-key", auth=("root", ROOT_PASSWORD))
    assert created.status_code == 201
    client.patch(
        f"/api/v1/users/{created.json()['id']}",
        json={"role": "admin"},
        auth=("root", ROOT_PASSWORD),
    )
    as_erin = _new_user(client, "frank", "by-user", auth=("erin", "Passw0rd!x"))
    assert as_erin.status_code == 201, as_erin.text
    assert "idempotent-replayed" not in as_erin.headers


def test_a_session_answer_is_never_stored_or_replayed(serve: Any) -> None:
    served = serve()
    served.start()
    client = served.client(auth=False)
    tokens = set()
    for _ in range(2):
        login = client.post(
            "/api/v1/session",
            auth=("root", ROOT_PASSWORD),
            headers={"Idempotency-Key": "login"},
        )
        assert login.status_code in (200, 201), login.text
        assert "idempotent-replayed" not in login.headers
        tokens.add(login.json()["session_id"])
    assert len(tokens) == 2
    stored = b"".join(path.read_bytes() for path in served.data_dir.glob("jetdr.db*"))
    for token in tokens:
        assert token.encode() not in stored


def test_a_key_left_pending_by_a_crash_is_taken_over(serve: Any) -> None:
    """The first request hangs (its peer never answers TLS), the appliance is killed with its
    record pending, and the retry after the restart is answered, not refused as in progress."""
    served = serve()
    served.start()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    port = silent.getsockname()[1]
    body = {"url": f"https://127.0.0.1:{port}", "username": "root", "password": "x"}
    headers = {"Idempotency-Key": "peer-1"}
    client = served.client()
    client.timeout = httpx.Timeout(0.5)
    with pytest.raises(httpx.ReadTimeout):
        client.post("/api/v1/sites", json=body, headers=headers)
    served.kill()
    silent.close()  # the retry finds the port closed: a quick, clear refusal
    served.start()
    retry = served.client().post("/api/v1/sites", json=body, headers=headers)
    assert retry.status_code == 422, retry.text
    assert retry.json()["error_code"] != "idempotency_in_progress"
    again = served.client().post("/api/v1/sites", json=body, headers=headers)
    assert again.status_code == 422
    assert again.headers.get("idempotent-replayed") == "true"
