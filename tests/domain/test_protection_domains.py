"""Protection domains: container and manifest on the storage site, and what they hold in use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.adapters.objectstore.local import LocalObjectStore
from tests.conftest import Appliance
from tests.domain.conftest import prepare_site


@pytest.fixture
async def ready(registered: Appliance, tmp_path: Path) -> dict[str, Any]:
    prepared = await prepare_site(registered, log_gb=100)
    store = tmp_path / "store"
    site = await registered.client.post(
        "/api/v1/storage-sites", json={"name": "local", "type": "local", "path": str(store)}
    )
    return {**prepared, "site": site.json(), "store": store}


async def test_create_writes_container_and_manifest_then_delete(
    registered: Appliance, ready: dict[str, Any]
) -> None:
    client = registered.client
    body = {
        "name": "erp",
        "storage_site_id": ready["site"]["id"],
        "drva_id": ready["drva"]["id"],
        "replication_log_volume_id": ready["volume_id"],
        "pitr": {"enabled": True},
    }
    task = (await client.post("/api/v1/protection-domains", json=body)).json()
    assert task["type"] == "create_domain"
    assert (await registered.wait_task(task["id"]))["status"] == "succeeded"
    domain = (await client.get("/api/v1/protection-domains")).json()["items"][0]
    assert (domain["mode"], domain["health"], domain["status"]) == ("idle", "ok", "ready")
    assert domain["pitr"] == {"enabled": True, "window_days": 3, "estimated_data_rate_iops": None}
    local = (await client.get("/api/v1/status")).json()["site"]["id"]
    assert domain["owner_site"] == domain["primary_site"] == local
    assert domain["owner_site_name"] == domain["primary_site_name"] == "protected"
    assert domain["rpo_target_seconds"] == 300
    store = LocalObjectStore(ready["store"])
    manifest = json.loads(await store.get(domain["container"], "manifest.json"))
    assert (manifest["domain_id"], manifest["epoch"]) == (domain["id"], 1)
    scan = (
        await client.post(f"/api/v1/storage-sites/{ready['site']['id']}/actions/scan-domains")
    ).json()
    found = (await registered.wait_task(scan["id"]))["result"]["domains"]
    assert [(d["domain_id"], d["importable"]) for d in found] == [(domain["id"], False)]
    assert (await client.get(f"/api/v1/drvas/{ready['drva']['id']}")).json()["domains"] == [
        domain["id"]
    ]

    for path in (
        f"/api/v1/storage-sites/{ready['site']['id']}",
        f"/api/v1/drvas/{ready['drva']['id']}",
        f"/api/v1/drvas/{ready['drva']['id']}/replication-log-volumes/{ready['volume_id']}",
    ):
        refused = await client.delete(path)
        assert refused.status_code == 409, path
        assert "erp" in refused.json()["message"]

    patched = await client.patch(f"/api/v1/protection-domains/{domain['id']}", json={"priority": 5})
    assert patched.json()["priority"] == 5
    pitr_later = await client.patch(
        f"/api/v1/protection-domains/{domain['id']}", json={"pitr": {"enabled": False}}
    )
    assert pitr_later.status_code == 422
    # Nothing protected yet: an empty window that would cost nothing.
    empty = (await client.get(f"/api/v1/protection-domains/{domain['id']}/pitr")).json()
    assert (empty["enabled"], empty["window_days"], empty["points"]) == (True, 3, 0)
    assert (empty["window_start"], empty["projected_storage_gb"]) == (None, 0.0)
    assert (await client.get("/api/v1/protection-domains/pd-nope/pitr")).status_code == 404
    deleted = await client.delete(f"/api/v1/protection-domains/{domain['id']}")
    assert (await registered.wait_task(deleted.json()["id"]))["status"] == "succeeded"
    assert await store.list_containers("jetdr-") == []
    assert (await client.delete(f"/api/v1/storage-sites/{ready['site']['id']}")).status_code == 204


async def test_invalid_references_are_422(registered: Appliance, ready: dict[str, Any]) -> None:
    estimate_alone = await registered.client.post(
        "/api/v1/protection-domains",
        json={
            "name": "estimated",
            "storage_site_id": ready["site"]["id"],
            "drva_id": ready["drva"]["id"],
            "replication_log_volume_id": ready["volume_id"],
            "pitr": {"enabled": False, "estimated_data_rate_iops": 500},
        },
    )
    assert estimate_alone.status_code == 422
    assert "PITR enabled" in estimate_alone.json()["message"], estimate_alone.text
    body = {
        "name": "bad",
        "storage_site_id": "ss-nope",
        "drva_id": ready["drva"]["id"],
        "replication_log_volume_id": "rlv-nope",
    }
    response = await registered.client.post("/api/v1/protection-domains", json=body)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["field_errors"]}
    assert fields == {"storage_site_id", "replication_log_volume_id"}
