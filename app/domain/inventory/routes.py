from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.deps import CurrentUser, ReaderDep, SessionDep, paged
from app.api.responses import json_page
from app.core.pagination import PageParams
from app.core.schemas import Page
from app.domain.inventory.models import Datastore, Host, Network, VirtualMachine
from app.domain.inventory.repository import BASE_SORT
from app.domain.inventory.schemas import ClusterRead, DatastoreRead, HostRead, NetworkRead, VmRead
from app.domain.inventory.service import InventoryReads, InventoryService

router = APIRouter(tags=["inventory"])


@router.get("/clusters", response_model=Page[ClusterRead])
async def list_clusters(
    _user: CurrentUser,
    session: SessionDep,
    page: PageParams = paged((*BASE_SORT, "status")),
    name: str | None = None,
    cluster_id: str | None = None,
) -> Page[ClusterRead]:
    result = await InventoryService(session).clusters(page, name, cluster_id)
    return Page(items=list(result.items), meta=result.meta)


@router.get("/clusters/{cluster_id}", response_model=ClusterRead)
async def get_cluster(cluster_id: str, _user: CurrentUser, session: SessionDep) -> ClusterRead:
    return await InventoryService(session).cluster(cluster_id)


@router.get("/hosts", response_model=Page[HostRead])
async def list_hosts(
    _user: CurrentUser,
    session: SessionDep,
    page: PageParams = paged(BASE_SORT),
    name: str | None = None,
    cluster_id: str | None = None,
) -> Page[HostRead]:
    result = await InventoryService(session).page(Host, page, name, cluster_id)
    return Page(items=[HostRead.model_validate(h) for h in result.items], meta=result.meta)


@router.get("/hosts/{host_id}", response_model=HostRead)
async def get_host(host_id: str, _user: CurrentUser, reader: ReaderDep) -> HostRead:
    return await InventoryReads(reader).one(Host, HostRead, host_id)


@router.get("/datastores", response_model=Page[DatastoreRead])
async def list_datastores(
    _user: CurrentUser,
    session: SessionDep,
    page: PageParams = paged(BASE_SORT),
    name: str | None = None,
    cluster_id: str | None = None,
) -> Page[DatastoreRead]:
    result = await InventoryService(session).page(Datastore, page, name, cluster_id)
    return Page(items=[DatastoreRead.model_validate(d) for d in result.items], meta=result.meta)


@router.get("/datastores/{datastore_id}", response_model=DatastoreRead)
async def get_datastore(datastore_id: str, _user: CurrentUser, reader: ReaderDep) -> DatastoreRead:
    return await InventoryReads(reader).one(Datastore, DatastoreRead, datastore_id)


@router.get("/networks", response_model=Page[NetworkRead])
async def list_networks(
    _user: CurrentUser,
    session: SessionDep,
    page: PageParams = paged(BASE_SORT),
    name: str | None = None,
) -> Page[NetworkRead]:
    result = await InventoryService(session).page(Network, page, name, None)
    return Page(items=[NetworkRead.model_validate(n) for n in result.items], meta=result.meta)


@router.get("/networks/{network_id}", response_model=NetworkRead)
async def get_network(network_id: str, _user: CurrentUser, reader: ReaderDep) -> NetworkRead:
    return await InventoryReads(reader).one(Network, NetworkRead, network_id)


@router.get("/vms", response_model=Page[VmRead])
async def list_vms(
    _user: CurrentUser,
    reader: ReaderDep,
    page: PageParams = paged(BASE_SORT),
    name: str | None = None,
    cluster_id: str | None = None,
) -> Response:
    return json_page(await InventoryReads(reader).vm_page(page, name, cluster_id))


@router.get("/vms/{vm_id}", response_model=VmRead)
async def get_vm(vm_id: str, _user: CurrentUser, reader: ReaderDep) -> VmRead:
    return await InventoryReads(reader).one(VirtualMachine, VmRead, vm_id)
