"""RocVA placement: validated against the inventory when it is set."""

from __future__ import annotations

from tests.conftest import Appliance


async def test_set_and_read_the_rocva_placement(registered: Appliance) -> None:
    client = registered.client
    assert (await client.get("/api/v1/recovery-settings")).json() == {
        "configured": False,
        "cluster_id": None,
        "datastore_id": None,
        "network_id": None,
        "test_network_id": None,
        "updated_by": None,
        "updated_at": None,
    }
    cluster = (await client.get("/api/v1/clusters")).json()["items"][0]
    datastores = {d["name"]: d for d in (await client.get("/api/v1/datastores")).json()["items"]}
    networks = {n["name"]: n for n in (await client.get("/api/v1/networks")).json()["items"]}
    body = {
        "cluster_id": cluster["id"],
        "datastore_id": datastores["vsanDatastore"]["id"],
        "network_id": networks["dhcp-segment"]["id"],
    }
    saved = await client.put("/api/v1/recovery-settings", json=body)
    assert saved.status_code == 200, saved.text
    assert saved.json()["configured"] is True
    assert saved.json()["updated_by"] == "root"
    assert (await client.get("/api/v1/recovery-settings")).json() == saved.json()

    no_dhcp = await client.put(
        "/api/v1/recovery-settings", json={**body, "network_id": networks["VM Network"]["id"]}
    )
    assert no_dhcp.status_code == 422
    assert no_dhcp.json()["field_errors"][0]["field"] == "network_id"
    unknown = await client.put(
        "/api/v1/recovery-settings",
        json={"cluster_id": "c-x", "datastore_id": "d-x", "network_id": "n-x"},
    )
    assert unknown.status_code == 422
    assert {e["field"] for e in unknown.json()["field_errors"]} == {
        "cluster_id",
        "datastore_id",
        "network_id",
    }
    # A refused change leaves the saved placement as it was.
    assert (await client.get("/api/v1/recovery-settings")).json() == saved.json()
    events = (await client.get("/api/v1/events", params={"limit": 200})).json()["items"]
    assert [e["action"] for e in events].count("recovery_settings.updated") == 1
