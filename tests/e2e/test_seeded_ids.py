"""`JETDR_SEED`: ids are deterministic from a fresh data directory and never repeat across a
restart or a reset (issue 13, item 1). Through real appliance processes over HTTPS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import VCENTER
from tests.e2e.conftest import ServedAppliance
from tests.e2e.dr_pair import CLOCK, Site

pytestmark = pytest.mark.e2e

SEEDED = {"JETDR_SEED": "42", **CLOCK}


def _user(site: Site, name: str) -> str:
    created = site.client.post(
        "/api/v1/users", json={"username": name, "role": "operator", "password": "Passw0rd!x"}
    )
    assert created.status_code == 201, created.text
    # Logging in as the new user records an event: the 500 of the issue was this one.
    login = site.client.post("/api/v1/session", auth=(name, "Passw0rd!x"))
    assert login.status_code == 201, login.text
    return str(created.json()["id"])


def _storage(site: Site, name: str, path: Path) -> str:
    path.mkdir(parents=True, exist_ok=True)
    created = site.client.post(
        "/api/v1/storage-sites", json={"name": name, "type": "local", "path": str(path)}
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _ids_seen(site: Site) -> set[str]:
    seen: set[str] = set()
    for kind in ("users", "events", "tasks", "storage-sites", "vms", "clusters", "sites"):
        offset = 0
        while True:
            page = site.get(f"/api/v1/{kind}", limit=1000, offset=offset)
            seen.update(item["id"] for item in page["items"])
            offset += len(page["items"])
            if not page["items"] or offset >= page["_meta"]["total"]:
                break
    return seen


def _scenario(served: ServedAppliance, store: Path) -> list[str]:
    """Boot, create, restart, create, reset, create: every id made, in order."""
    served.start()
    site = Site(served)
    made = [site.get("/api/v1/status")["site"]["id"]]
    made.append(_user(site, "alice"))
    task = site.act("/api/v1/vcenters", VCENTER)
    made += [task["id"], task["entity"]["id"]]
    made.append(_storage(site, "first", store / "first"))
    before_restart = _ids_seen(site)

    served.stop()
    served.start()
    site.reconnect()
    made.append(_user(site, "bob"))
    made.append(_storage(site, "second", store / "second"))
    refresh = site.act(f"/api/v1/vcenters/{task['entity']['id']}/actions/refresh-inventory")
    made.append(refresh["id"])
    after_restart = _ids_seen(site)
    new = after_restart - before_restart
    assert new, "the restart made no new rows"
    # Every id made after the restart is one the first boot had not made (no collision: the
    # API answered 2xx to every create, and the sets only grow).
    assert before_restart <= after_restart

    assert site.client.post("/_emulator/reset").status_code == 200
    made.append(_user(site, "carol"))
    again = site.act("/api/v1/vcenters", VCENTER)
    made += [again["id"], again["entity"]["id"]]
    assert again["entity"]["id"] != task["entity"]["id"], "a reset repeated a vCenter id"
    assert again["id"] not in {task["id"], refresh["id"]}, "a reset repeated a task id"
    served.stop()
    return made


def test_seeded_ids_repeat_between_fresh_runs_and_never_within_one(
    serve: Any, tmp_path: Path
) -> None:
    first = _scenario(serve(name="run-1", **SEEDED), tmp_path / "store-1")
    second = _scenario(serve(name="run-2", **SEEDED), tmp_path / "store-2")
    assert len(set(first)) == len(first), first
    assert first == second


def test_two_sites_with_one_seed_have_distinct_site_ids(serve: Any) -> None:
    a = serve(name="a", JETDR_SITE_NAME="protected", **SEEDED)
    b = serve(name="b", JETDR_SITE_NAME="recovery", JETDR_TOPOLOGY="recovery", **SEEDED)
    a.start()
    b.start()
    ids = [served.client().get("/api/v1/status").json()["site"]["id"] for served in (a, b)]
    assert ids[0] != ids[1]
