"""Every query on the discovered inventory."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, String, cast, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import read_one
from app.core.pagination import PageParams, PageResult, paginate, paginate_columns
from app.domain.inventory.models import Cluster, Datastore, Host, Network, VirtualMachine

Model = TypeVar("Model", Cluster, Host, Datastore, Network, VirtualMachine)

# Every inventory list sorts by these (clusters by their status too).
BASE_SORT = ("name", "id")


async def list_page(
    session: AsyncSession,
    model: type[Model],
    params: PageParams,
    *,
    name: str | None = None,
    cluster_id: str | None = None,
    extra_sort: dict[str, Any] | None = None,
) -> PageResult[Model]:
    query = _filtered(select(model), model, name, cluster_id)
    sortable: dict[str, Any] = {"name": model.name, "id": model.id, **(extra_sort or {})}
    return await paginate(session, query, params, sortable, "name")


VM_COLUMNS = (
    VirtualMachine.id,
    VirtualMachine.name,
    VirtualMachine.moref,
    VirtualMachine.cluster_id,
    VirtualMachine.host_id,
    VirtualMachine.power_state,
    VirtualMachine.cpu,
    VirtualMachine.memory_mb,
    VirtualMachine.guest_os,
    VirtualMachine.ip,
    VirtualMachine.iso_path,
    VirtualMachine.disks,
)


def vm_page(
    connection: Connection, params: PageParams, name: str | None, cluster_id: str | None
) -> PageResult[dict[str, Any]]:
    """A page of VMs as the columns their answer shows (the list a plugin grid polls; run by
    a `Reader`)."""
    query = _filtered(select(*VM_COLUMNS), VirtualMachine, name, cluster_id)
    sortable: dict[str, Any] = {"name": VirtualMachine.name, "id": VirtualMachine.id}
    return paginate_columns(connection, query, params, sortable, "name")


def _filtered(query: Any, model: type[Model], name: str | None, cluster_id: str | None) -> Any:
    if name is not None:
        query = query.where(model.name == name)
    if cluster_id is not None:
        cluster_column = getattr(model, "cluster_id", None)
        if cluster_column is not None:
            query = query.where(cluster_column == cluster_id)
        elif model is Cluster:
            query = query.where(Cluster.id == cluster_id)
        elif model is Datastore:
            # cluster_ids is a JSON list of opaque ids (no quotes inside), stored as text.
            query = query.where(cast(Datastore.cluster_ids, String).contains(f'"{cluster_id}"'))
    return query


def read(
    connection: Connection, model: type[Model], fields: Iterable[str], object_id: str
) -> dict[str, Any] | None:
    """One inventory object's columns named `fields` (a `Reader`'s work)."""
    return read_one(connection, model, fields, object_id)


async def get(session: AsyncSession, model: type[Model], object_id: str) -> Model | None:
    return await session.get(model, object_id)


async def hosts_of(session: AsyncSession, cluster_ids: Sequence[str]) -> dict[str, list[Host]]:
    grouped: dict[str, list[Host]] = {cluster_id: [] for cluster_id in cluster_ids}
    if not cluster_ids:
        return grouped
    rows = await session.scalars(
        select(Host).where(Host.cluster_id.in_(cluster_ids)).order_by(Host.name)
    )
    for host in rows.all():
        if host.cluster_id is not None:
            grouped[host.cluster_id].append(host)
    return grouped


async def all_of(session: AsyncSession, model: type[Model], vcenter_id: str) -> Sequence[Model]:
    rows = await session.scalars(select(model).where(model.vcenter_id == vcenter_id))
    return rows.all()


async def configured_clusters(session: AsyncSession, vcenter_id: str) -> Sequence[Cluster]:
    rows = await session.scalars(
        select(Cluster).where(Cluster.vcenter_id == vcenter_id, Cluster.status != "unconfigured")
    )
    return rows.all()


async def delete_all(session: AsyncSession, vcenter_id: str) -> None:
    for model in (VirtualMachine, Host, Datastore, Network, Cluster):
        await session.execute(delete(model).where(model.vcenter_id == vcenter_id))


async def by_ids(
    session: AsyncSession, model: type[Model], object_ids: Sequence[str]
) -> dict[str, Model]:
    """The rows of `model` with these ids, by id (missing ids are absent)."""
    rows = await session.scalars(select(model).where(model.id.in_(list(object_ids))))
    return {row.id: row for row in rows}


async def hosts_with_cluster_status(session: AsyncSession) -> list[tuple[Host, str | None]]:
    """Every host and its cluster's IO-filter status (None: in no cluster)."""
    found = await session.execute(
        select(Host, Cluster.status).outerjoin(Cluster, Cluster.id == Host.cluster_id)
    )
    return [(host, status) for host, status in found]


async def vcenters_with_configured_clusters(session: AsyncSession) -> list[str]:
    found = await session.scalars(
        select(Cluster.vcenter_id).where(Cluster.status != "unconfigured").distinct()
    )
    return list(found)
