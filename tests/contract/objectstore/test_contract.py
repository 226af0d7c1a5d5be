"""What every object store must do, checked against a directory, moto's S3 server and Azurite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.adapters.objectstore.azure_blob import AzureBlobObjectStore
from app.adapters.objectstore.errors import ObjectNotFound, StorageAuthFailed, StorageUnreachable
from app.adapters.objectstore.local import LocalObjectStore
from app.adapters.objectstore.port import CONTAINER_NAME, ObjectStore
from app.adapters.objectstore.s3 import S3ObjectStore
from tests.peers import objectstores


@pytest.fixture(params=["local", "s3", "azure_blob"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "local":
        yield LocalObjectStore(tmp_path / "store")
    elif request.param == "s3":
        with objectstores.moto_server() as peer:
            yield S3ObjectStore(
                endpoint=peer.endpoint,
                region="us-east-1",
                access_key_id="jetdr",
                secret_access_key="jetdr-secret",
            )
    else:
        with objectstores.azurite(tmp_path / "azurite") as peer:
            yield AzureBlobObjectStore(
                account_name=peer.account, access_key=peer.key, endpoint=peer.endpoint
            )


async def test_container_lifecycle(store: ObjectStore) -> None:
    await store.check()
    await store.create_container("jetdr-pd-0001")
    await store.create_container("jetdr-pd-0001")
    await store.create_container("other-0001")
    assert await store.list_containers("jetdr-") == ["jetdr-pd-0001"]
    await store.delete_container("jetdr-pd-0001")
    assert await store.list_containers("jetdr-") == []


async def test_objects_round_trip_under_a_hierarchy(store: ObjectStore) -> None:
    await store.create_container("jetdr-pd-0002")
    payload = bytes(range(256)) * 64
    await store.put("jetdr-pd-0002", "manifest.json", b'{"epoch": 1}')
    await store.put("jetdr-pd-0002", "vms/vm-1/segments/000001", payload)
    await store.put("jetdr-pd-0002", "vms/vm-1/segments/000002", b"second")
    assert await store.get("jetdr-pd-0002", "vms/vm-1/segments/000001") == payload
    assert await store.list("jetdr-pd-0002", "vms/vm-1/") == [
        "vms/vm-1/segments/000001",
        "vms/vm-1/segments/000002",
    ]
    await store.put("jetdr-pd-0002", "manifest.json", b'{"epoch": 2}')
    assert await store.get("jetdr-pd-0002", "manifest.json") == b'{"epoch": 2}'
    await store.delete("jetdr-pd-0002", "vms/vm-1/segments/000002")
    assert await store.list("jetdr-pd-0002") == ["manifest.json", "vms/vm-1/segments/000001"]


async def test_missing_things_are_not_found(store: ObjectStore) -> None:
    await store.create_container("jetdr-pd-0003")
    with pytest.raises(ObjectNotFound):
        await store.get("jetdr-pd-0003", "nothing")
    with pytest.raises(ObjectNotFound):
        await store.delete("jetdr-pd-0003", "nothing")
    with pytest.raises(ObjectNotFound):
        await store.list("jetdr-pd-9999")


def test_container_names_fit_azure_and_s3() -> None:
    assert CONTAINER_NAME.match("jetdr-pd-3f2a9c")
    for bad in ("Jetdr", "a", "with_underscore", "double--hyphen", "-leading"):
        assert not CONTAINER_NAME.match(bad), bad


async def test_azurite_refuses_a_wrong_key(tmp_path: Path) -> None:
    with objectstores.azurite(tmp_path / "azurite") as peer:
        wrong = AzureBlobObjectStore(
            account_name=peer.account, access_key="d3Jvbmcta2V5" * 4, endpoint=peer.endpoint
        )
        with pytest.raises(StorageAuthFailed):
            await wrong.check()


async def test_unreachable_endpoints(tmp_path: Path) -> None:
    s3 = S3ObjectStore(
        endpoint="http://127.0.0.1:9", region="us-east-1", access_key_id="a", secret_access_key="b"
    )
    with pytest.raises(StorageUnreachable):
        await s3.check()
    blob = AzureBlobObjectStore(
        account_name="acct", access_key="a2V5" * 8, endpoint="http://127.0.0.1:9/acct"
    )
    with pytest.raises(StorageUnreachable):
        await blob.check()
