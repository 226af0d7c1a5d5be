"""Storage sites against a directory, moto's S3 server and Azurite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import text

from tests.conftest import Appliance
from tests.peers import objectstores


async def test_create_scan_and_delete(appliance: Appliance, site_spec: dict[str, Any]) -> None:
    client = appliance.client
    created = await client.post("/api/v1/storage-sites", json=site_spec)
    assert created.status_code == 201, created.text
    site = created.json()
    secret = site_spec.get("access_key")
    if secret:
        assert secret not in created.text
        assert site["has_access_key"] is True
        listed = await client.get("/api/v1/storage-sites")
        assert secret not in listed.text
        async with appliance.container.platform.engine.connect() as connection:
            stored = (
                await connection.execute(text("SELECT access_key_encrypted FROM storage_site"))
            ).scalar_one()
        assert secret not in stored
    store = objectstores.store_for(site_spec)
    await store.create_container("jetdr-pd-0001")
    await store.put(
        "jetdr-pd-0001",
        "manifest.json",
        json.dumps({"domain_id": "pd-0001", "name": "erp", "owner_site": "onprem"}).encode(),
    )
    await store.create_container("jetdr-pd-0002")
    await store.put(
        "jetdr-pd-0002",
        "manifest.json",
        json.dumps({"domain_id": "pd-0002", "name": "web", "owner_site": "protected"}).encode(),
    )
    await store.create_container("jetdr-empty")
    task = (await client.post(f"/api/v1/storage-sites/{site['id']}/actions/scan-domains")).json()
    done = await appliance.wait_task(task["id"])
    assert done["status"] == "succeeded", done
    found = {d["domain_id"]: d for d in done["result"]["domains"]}
    assert set(found) == {"pd-0001", "pd-0002"}
    assert found["pd-0001"]["importable"] is True
    assert found["pd-0002"]["importable"] is False
    assert (await client.delete(f"/api/v1/storage-sites/{site['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/storage-sites/{site['id']}")).status_code == 404


async def test_wrong_credentials_are_422_and_nothing_is_stored(
    appliance: Appliance, tmp_path: Path
) -> None:
    with objectstores.azurite(tmp_path / "azurite") as peer:
        response = await appliance.client.post(
            "/api/v1/storage-sites",
            json={
                "name": "bad",
                "type": "azure_blob",
                "endpoint": peer.endpoint,
                "account_name": peer.account,
                "access_key": "V3JvbmdLZXlXcm9uZ0tleQ==",
            },
        )
    assert response.status_code == 422
    assert response.json()["error_code"] == "storage_auth_failed"
    assert "V3JvbmdLZXlXcm9uZ0tleQ==" not in response.text
    assert (await appliance.client.get("/api/v1/storage-sites")).json()["_meta"]["total"] == 0


async def test_unreachable_store_and_bad_fields(appliance: Appliance) -> None:
    unreachable = await appliance.client.post(
        "/api/v1/storage-sites",
        json={
            "name": "gone",
            "type": "s3",
            "endpoint": "http://127.0.0.1:9",
            "account_name": "a",
            "access_key": "b",
        },
    )
    assert unreachable.status_code == 422
    assert unreachable.json()["error_code"] == "storage_unreachable"
    for body in (
        {"name": "x", "type": "s3"},
        {"name": "x", "type": "local", "access_key": "k"},
        {"name": "x", "type": "azure_blob", "account_name": "a"},
        {"name": "x", "type": "ftp"},
    ):
        response = await appliance.client.post("/api/v1/storage-sites", json=body)
        assert response.status_code == 422, body


async def test_duplicate_name_is_409(appliance: Appliance, tmp_path: Path) -> None:
    spec = {"name": "dup", "type": "local", "path": str(tmp_path / "s")}
    assert (await appliance.client.post("/api/v1/storage-sites", json=spec)).status_code == 201
    again = await appliance.client.post("/api/v1/storage-sites", json=spec)
    assert again.status_code == 409


async def test_a_local_storage_site_path_must_be_a_safe_absolute_one(
    appliance: Appliance, tmp_path: Path
) -> None:
    """Issue 14, item 12: no relative path, no ~, no system directory, not the data dir."""
    client = appliance.client
    data_dir = appliance.container.platform.settings.data_dir
    for path in (
        "relative/store",
        "~/store",
        "/",
        "/etc",
        "/usr/lib/store",
        "/proc/self",
        str(data_dir),
        str(data_dir / "tls"),
        f"{data_dir}/../{data_dir.name}",
    ):
        refused = await client.post(
            "/api/v1/storage-sites", json={"name": "s", "type": "local", "path": path}
        )
        assert refused.status_code == 422, (path, refused.text)
        assert refused.json()["field_errors"][0]["field"] == "path"
    # Plain answers: a missing parent and a forbidden one read the same.
    blocked = tmp_path / "file"
    blocked.write_text("x")
    answer = await client.post(
        "/api/v1/storage-sites",
        json={"name": "s", "type": "local", "path": str(blocked / "store")},
    )
    assert answer.status_code == 422
    assert "Not a directory" not in answer.text and "Errno" not in answer.text
    default = await client.post("/api/v1/storage-sites", json={"name": "d", "type": "local"})
    assert default.status_code == 201, default.text
    assert default.json()["path"] == str((data_dir / "object-store").resolve())
