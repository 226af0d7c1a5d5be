"""Twenty parallel DELETEs of one resource over HTTPS: exactly one wins (issue 13, item 4)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT_PASSWORD, VCENTER
from tests.e2e.conftest import ServedAppliance
from tests.e2e.dr_pair import Site

pytestmark = pytest.mark.e2e

PARALLEL = 20


def _at_once(
    served: ServedAppliance, request: Callable[[httpx.Client], httpx.Response]
) -> Counter[int]:
    clients = [served.client() for _ in range(PARALLEL)]
    for client in clients:  # connected before the burst, so the requests really overlap
        client.get("/api/v1/status")
    start = threading.Barrier(PARALLEL)

    def one(client: httpx.Client) -> httpx.Response:
        start.wait()
        return request(client)

    with ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(one, clients))
    for answer in answers:
        if answer.status_code >= 400:
            assert {"error_code", "message"} <= answer.json().keys(), answer.text
    return Counter(answer.status_code for answer in answers)


def _events(site: Site, action: str) -> int:
    return int(site.get("/api/v1/events", action=action, limit=1000)["_meta"]["total"])


def test_every_delete_has_exactly_one_winner(serve: Any, tmp_path: Path) -> None:
    served = serve()
    peer = serve(name="peer", JETDR_SITE_NAME="peer", JETDR_TOPOLOGY="recovery")
    served.start()
    peer.start()
    site = Site(served)
    client = site.client

    user = client.post(
        "/api/v1/users", json={"username": "gone", "role": "viewer", "password": "Passw0rd!x"}
    ).json()["id"]
    outcome = _at_once(served, lambda c: c.delete(f"/api/v1/users/{user}"))
    assert outcome == Counter({204: 1, 404: PARALLEL - 1})
    assert _events(site, "user.deleted") == 1

    (tmp_path / "store").mkdir()
    store = client.post(
        "/api/v1/storage-sites",
        json={"name": "gone", "type": "local", "path": str(tmp_path / "store")},
    ).json()["id"]
    outcome = _at_once(served, lambda c: c.delete(f"/api/v1/storage-sites/{store}"))
    assert outcome == Counter({204: 1, 404: PARALLEL - 1})
    assert _events(site, "storage_site.deleted") == 1

    added = client.post(
        "/api/v1/sites",
        json={
            "url": peer.url,
            "username": "root",
            "password": ROOT_PASSWORD,
            "certificate_sha256": Site(peer).certificate_sha256(),
        },
    )
    assert added.status_code == 201, added.text
    outcome = _at_once(served, lambda c: c.delete(f"/api/v1/sites/{added.json()['id']}"))
    assert outcome == Counter({204: 1, 404: PARALLEL - 1})
    assert _events(site, "site.peer_removed") == 1

    saved = client.post("/_emulator/state/save", json={"name": "gone"})
    assert saved.status_code in (200, 201), saved.text
    outcome = _at_once(served, lambda c: c.delete("/_emulator/state/snapshots/gone"))
    assert outcome == Counter({204: 1, 404: PARALLEL - 1})

    fault = client.post("/_emulator/faults", json={"target": "x.y", "kind": "hang"}).json()["id"]
    outcome = _at_once(served, lambda c: c.delete(f"/_emulator/faults/{fault}"))
    assert outcome == Counter({204: 1, 404: PARALLEL - 1})

    token = client.post("/api/v1/session").json()["session_id"]
    outcome = _at_once(
        served,
        lambda c: c.delete("/api/v1/session", headers={"x-jetdr-session": token}),
    )
    assert outcome == Counter({204: 1, 401: PARALLEL - 1})

    # A delete that runs as a task: one task, the others see it under way.
    vcenter = site.act("/api/v1/vcenters", VCENTER)["entity"]["id"]
    site.client.put("/_emulator/clock", json={"mode": "manual"})  # the winner's task waits
    outcome = _at_once(served, lambda c: c.delete(f"/api/v1/vcenters/{vcenter}"))
    assert outcome == Counter({202: 1, 409: PARALLEL - 1})
