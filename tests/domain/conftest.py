"""Fixtures shared by the domain tests: the storage peers and a protected site's plumbing."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Appliance
from tests.peers import objectstores


@pytest.fixture(params=["local", "s3", "azure_blob"])
def site_spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    if request.param == "local":
        yield {"name": "local", "type": "local", "path": str(tmp_path / "store")}
    elif request.param == "s3":
        with objectstores.moto_server() as peer:
            yield {
                "name": "s3",
                "type": "s3",
                "endpoint": peer.endpoint,
                "account_name": "AKIAJETDR",
                "access_key": "s3-Secret-Key-1234",
                "region": "us-east-1",
            }
    else:
        with objectstores.azurite(tmp_path / "azurite") as peer:
            yield {
                "name": "blob",
                "type": "azure_blob",
                "endpoint": peer.endpoint,
                "account_name": peer.account,
                "access_key": peer.key,
            }


@pytest.fixture
def all_logs() -> Iterator[list[str]]:
    """Every log line any logger emits during the test, at DEBUG (SDKs included)."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect(logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


async def prepare_site(appliance: Appliance, *, log_gb: int = 10) -> dict[str, Any]:
    """A configured cluster, a running DRVA and a VMDK replication-log volume on it."""
    client = appliance.client
    cluster = (await client.get("/api/v1/clusters")).json()["items"][0]
    configure = await client.post(f"/api/v1/clusters/{cluster['id']}/actions/configure")
    await appliance.wait_task(configure.json()["id"])
    datastore = (await client.get("/api/v1/datastores", params={"name": "vsanDatastore"})).json()[
        "items"
    ][0]
    network = (await client.get("/api/v1/networks", params={"name": "dhcp-segment"})).json()[
        "items"
    ][0]
    deploy = await client.post(
        "/api/v1/drvas",
        json={
            "name": "drva",
            "cluster_id": cluster["id"],
            "datastore_id": datastore["id"],
            "network_id": network["id"],
        },
    )
    await appliance.wait_task(deploy.json()["id"])
    drva = (await client.get("/api/v1/drvas")).json()["items"][0]
    volume = await client.post(
        f"/api/v1/drvas/{drva['id']}/replication-log-volumes",
        json={"type": "vmdk", "size_gb": log_gb, "datastore_id": datastore["id"]},
    )
    volume_id = (await appliance.wait_task(volume.json()["id"]))["result"]["volume_id"]
    return {"cluster": cluster, "drva": drva, "volume_id": volume_id, "datastore": datastore}
