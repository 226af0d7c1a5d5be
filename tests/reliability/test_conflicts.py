"""Conflicting requests at the same moment: exactly one wins, every other gets 409."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Appliance

ATTEMPTS = 12

pytestmark = pytest.mark.reliability


async def at_once(requests: list[Coroutine[Any, Any, httpx.Response]]) -> Counter[int]:
    answers = await asyncio.gather(*requests)
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["error_code"] in {"invalid_state", "already_exists"}, answer.text
    return Counter(answer.status_code for answer in answers)


async def test_one_configure_of_a_cluster_wins(registered: Appliance) -> None:
    client = registered.client
    await client.put("/_emulator/clock", json={"mode": "manual"})
    cluster = (await client.get("/api/v1/clusters")).json()["items"][0]
    path = f"/api/v1/clusters/{cluster['id']}/actions/configure"
    outcome = await at_once([client.post(path) for _ in range(ATTEMPTS)])
    assert outcome == Counter({202: 1, 409: ATTEMPTS - 1})


async def test_one_storage_site_of_a_name_wins(appliance: Appliance, tmp_path: Path) -> None:
    client = appliance.client
    body = {"name": "only-one", "type": "local", "path": str(tmp_path / "store")}
    outcome = await at_once(
        [client.post("/api/v1/storage-sites", json=body) for _ in range(ATTEMPTS)]
    )
    assert outcome == Counter({201: 1, 409: ATTEMPTS - 1})
    listed = (await client.get("/api/v1/storage-sites")).json()["items"]
    assert [site["name"] for site in listed] == ["only-one"]


async def test_one_unregister_of_a_vcenter_wins(registered: Appliance) -> None:
    client = registered.client
    # The winner's task must not finish (and forget the vCenter) during the burst.
    await client.put("/_emulator/clock", json={"mode": "manual"})
    vcenter = (await client.get("/api/v1/vcenters")).json()["items"][0]
    outcome = await at_once(
        [client.delete(f"/api/v1/vcenters/{vcenter['id']}") for _ in range(ATTEMPTS)]
    )
    assert outcome == Counter({202: 1, 409: ATTEMPTS - 1})
