"""Every list route in the OpenAPI document takes the same limit/offset/sort_by/order, refuses
invalid values with 422, and answers a `_meta` that is the truth (issue 13, item 5)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Appliance
from tests.domain.conftest import prepare_site

INVALID: list[dict[str, Any]] = [
    {"limit": -1},
    {"limit": 0},
    {"limit": 1001},
    {"limit": "many"},
    {"offset": -1},
    {"sort_by": "junk"},
    {"order": "sideways"},
]


async def _with_data(appliance: Appliance, tmp_path: Path) -> dict[str, str]:
    """A domain with two VMs: every list has something in it. Returns the path ids."""
    client = appliance.client
    prepared = await prepare_site(appliance, log_gb=100)
    site = await client.post(
        "/api/v1/storage-sites",
        json={"name": "local", "type": "local", "path": str(tmp_path / "store")},
    )
    other = await client.post(
        "/api/v1/storage-sites",
        json={"name": "another", "type": "local", "path": str(tmp_path / "store-2")},
    )
    assert site.status_code == other.status_code == 201
    task = await client.post(
        "/api/v1/protection-domains",
        json={
            "name": "erp",
            "storage_site_id": site.json()["id"],
            "drva_id": prepared["drva"]["id"],
            "replication_log_volume_id": prepared["volume_id"],
        },
    )
    domain_id = (await appliance.wait_task(task.json()["id"]))["entity"]["id"]
    vms = (await client.get("/api/v1/vms", params={"limit": 2})).json()["items"]
    added = await client.post(
        f"/api/v1/protection-domains/{domain_id}/vms", json={"vm_ids": [vm["id"] for vm in vms]}
    )
    await appliance.wait_task(added.json()["id"])
    return {"drva_id": prepared["drva"]["id"], "domain_id": domain_id}


def _list_routes(document: dict[str, Any]) -> list[str]:
    routes = []
    for path, operations in document["paths"].items():
        get = operations.get("get")
        if get is None:
            continue
        schema = get["responses"].get("200", {}).get("content", {}).get("application/json", {})
        reference = schema.get("schema", {}).get("$ref", "")
        if reference.rsplit("/", 1)[-1].startswith("Page_"):
            routes.append(path)
    return routes


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda match: ids[match.group(1)], path)


async def test_every_list_route_pages_sorts_and_refuses_bad_values(
    registered: Appliance, tmp_path: Path
) -> None:
    client: httpx.AsyncClient = registered.client
    ids = await _with_data(registered, tmp_path)
    document = (await client.get("/openapi.json")).json()
    routes = _list_routes(document)
    for expected in (
        "/api/v1/vcenters",
        "/api/v1/storage-sites",
        "/api/v1/drvas",
        "/api/v1/drva-images",
        "/api/v1/drvas/{drva_id}/replication-log-volumes",
        "/api/v1/protection-domains",
        "/api/v1/protection-domains/{domain_id}/vms",
        "/api/v1/recovery-reports",
    ):
        assert expected in routes
    problems: list[str] = []
    for route in routes:
        path = _fill(route, ids)
        parameters = {p["name"]: p for p in document["paths"][route]["get"]["parameters"]}
        sort_keys = parameters["sort_by"]["schema"]["anyOf"][0]["enum"]
        for params in INVALID:
            answer = await client.get(path, params=params)
            if answer.status_code != 422 or answer.json().get("error_code") != "validation_error":
                problems.append(f"{route} {params}: {answer.status_code}")
        everything = (await client.get(path, params={"limit": 1000})).json()
        total = everything["_meta"]["total"]
        if total != len(everything["items"]) or everything["_meta"]["limit"] != 1000:
            problems.append(f"{route}: _meta {everything['_meta']} for {len(everything['items'])}")
        one = (await client.get(path, params={"limit": 1, "offset": 1})).json()
        if one["_meta"] != {"total": total, "limit": 1, "offset": 1}:
            problems.append(f"{route}: _meta {one['_meta']} for limit=1&offset=1")
        if len(one["items"]) != min(1, max(total - 1, 0)):
            problems.append(f"{route}: {len(one['items'])} items at offset 1 of {total}")
        for key in sort_keys:
            for order in ("asc", "desc"):
                answer = await client.get(path, params={"sort_by": key, "order": order})
                if answer.status_code != 200:
                    problems.append(f"{route} sort_by={key}&order={order}: {answer.status_code}")
    assert not problems, "\n".join(problems)


async def test_a_list_sorted_in_memory_orders_both_ways(
    registered: Appliance, tmp_path: Path
) -> None:
    client = registered.client
    for name in ("bravo", "alpha", "charlie"):
        created = await client.post(
            "/api/v1/storage-sites",
            json={"name": name, "type": "local", "path": str(tmp_path / name)},
        )
        assert created.status_code == 201
    ascending = (await client.get("/api/v1/storage-sites", params={"sort_by": "name"})).json()
    assert [s["name"] for s in ascending["items"]] == ["alpha", "bravo", "charlie"]
    descending = (
        await client.get(
            "/api/v1/storage-sites", params={"sort_by": "name", "order": "desc", "limit": 2}
        )
    ).json()
    assert [s["name"] for s in descending["items"]] == ["charlie", "bravo"]
    assert descending["_meta"] == {"total": 3, "limit": 2, "offset": 0}
