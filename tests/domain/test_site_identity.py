"""A site is its id; its name is a label (issue 13, item 2). Renaming the site, through the API
or a restart with another `JETDR_SITE_NAME`, leaves every domain it owns protecting."""

from __future__ import annotations

import json
from typing import Any

from app.adapters.objectstore.local import LocalObjectStore
from tests.conftest import Appliance, start_appliance
from tests.domain.test_replication import (
    advance,
    create_domain,
    domain_of,
    local_site,
    protect,
    statistics,
)

FIFTEEN_MINUTES = 900


async def _protecting(appliance: Appliance, tmp_path: Any) -> str:
    prepared, site_id, _spec = await local_site(appliance, tmp_path)
    domain = await create_domain(appliance, prepared, site_id)
    await protect(appliance, domain["id"], ["web-01"])
    await advance(appliance.client, 300)
    return str(domain["id"])


async def _still_protecting(appliance: Appliance, domain_id: str) -> dict[str, Any]:
    client = appliance.client
    before = await statistics(client, domain_id)
    await advance(client, FIFTEEN_MINUTES)
    state = await domain_of(client, domain_id)
    assert (state["mode"], state["health"], state["replication_enabled"]) == (
        "protecting",
        "ok",
        True,
    ), state
    after = await statistics(client, domain_id)
    assert after["bytes_out"] > before["bytes_out"], "replication stopped"
    assert not after.get("last_error"), after
    return state


async def test_a_rename_while_protecting_changes_only_the_label(
    registered: Appliance, tmp_path: Any
) -> None:
    client = registered.client
    domain_id = await _protecting(registered, tmp_path)
    site = (await client.get("/api/v1/status")).json()["site"]
    renamed = await client.patch("/api/v1/appliance", json={"site_name": "dc-east"})
    assert renamed.status_code == 200, renamed.text
    state = await _still_protecting(registered, domain_id)
    assert (state["owner_site"], state["owner_site_name"]) == (site["id"], "dc-east")
    assert (await client.get("/api/v1/status")).json()["site"] == {**site, "name": "dc-east"}
    manifest = json.loads(
        await LocalObjectStore(tmp_path / "store").get(state["container"], "manifest.json")
    )
    assert manifest["owner_site"] == site["id"]


async def test_a_restart_with_another_site_name_keeps_the_domains(
    make_settings: Any, tmp_path: Any
) -> None:
    async with start_appliance(make_settings(site_name="dc-east")) as appliance:
        await appliance.register_vcenter()
        domain_id = await _protecting(appliance, tmp_path)
        site_id = (await appliance.client.get("/api/v1/status")).json()["site"]["id"]
    async with start_appliance(make_settings(site_name="dc-west")) as again:
        status = (await again.client.get("/api/v1/status")).json()
        assert status["site"] == {"id": site_id, "name": "dc-west"}
        await again.client.put("/_emulator/clock", json={"mode": "manual"})
        state = await _still_protecting(again, domain_id)
        assert (state["owner_site"], state["owner_site_name"]) == (site_id, "dc-west")
