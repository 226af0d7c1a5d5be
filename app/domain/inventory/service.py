"""Reading the discovered inventory, and reconciling it with what vCenter reports."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.vcenter.port import Inventory
from app.core.db import Reader
from app.core.errors import NotFound
from app.core.ids import new_id
from app.core.pagination import PageParams, PageResult
from app.domain.inventory import repository
from app.domain.inventory.host_issues import reconcile_host_alarms
from app.domain.inventory.models import Cluster, Datastore, Host, Network, VirtualMachine
from app.domain.inventory.schemas import (
    ClusterRead,
    DatastoreRead,
    DiskRead,
    HostRead,
    IoFilterState,
    NetworkRead,
    VmRead,
)

if TYPE_CHECKING:
    from app.domain.platform import Platform

Model = TypeVar("Model", Cluster, Host, Datastore, Network, VirtualMachine)
Record = TypeVar("Record")
ReadModel = TypeVar("ReadModel", HostRead, DatastoreRead, NetworkRead, VmRead)


async def sync_inventory(
    platform: Platform, vcenter_id: str, inventory: Inventory
) -> dict[str, int]:
    """Reconcile and commit, one sync at a time: concurrent tasks (two DRVAs registering, say)
    must not both insert the same new VM."""
    async with platform.inventory_lock, platform.sessionmaker() as session:
        counts = await InventoryService(session).sync(vcenter_id, inventory)
        await reconcile_host_alarms(session, platform.clock.now())
        await session.commit()
    return counts


DISK_FIELDS = tuple(DiskRead.model_fields)


class InventoryReads:
    """The inventory reads a client polls, answered as plain data in their read models' shape
    (no ORM object or model per row) through the platform's `Reader`."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    async def vm_page(
        self, params: PageParams, name: str | None, cluster_id: str | None
    ) -> PageResult[dict[str, Any]]:
        """A page of VMs in `VmRead`'s shape."""
        result = await self.reader.run(
            lambda connection: repository.vm_page(connection, params, name, cluster_id)
        )
        for item in result.items:
            item["disks"] = [
                {field: disk[field] for field in DISK_FIELDS} for disk in item["disks"]
            ]
        return result

    async def one(self, model: type[Model], read: type[ReadModel], object_id: str) -> ReadModel:
        """One object as its read model (`read`'s fields are columns of `model`)."""
        found = await self.reader.run(
            lambda connection: repository.read(connection, model, read.model_fields, object_id)
        )
        if found is None:
            raise NotFound(f"{model.__tablename__} {object_id} does not exist")
        return read.model_validate(found)


class InventoryService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def clusters(
        self, params: PageParams, name: str | None, cluster_id: str | None
    ) -> PageResult[ClusterRead]:
        page = await repository.list_page(
            self.session,
            Cluster,
            params,
            name=name,
            cluster_id=cluster_id,
            extra_sort={"status": Cluster.status},
        )
        hosts = await repository.hosts_of(self.session, [c.id for c in page.items])
        items = [self._cluster(c, hosts[c.id]) for c in page.items]
        return PageResult(items=items, total=page.total, limit=page.limit, offset=page.offset)

    async def cluster(self, cluster_id: str) -> ClusterRead:
        cluster = await repository.get(self.session, Cluster, cluster_id)
        if cluster is None:
            raise NotFound(f"cluster {cluster_id} does not exist")
        hosts = await repository.hosts_of(self.session, [cluster.id])
        return self._cluster(cluster, hosts[cluster.id])

    @staticmethod
    def _cluster(cluster: Cluster, hosts: Sequence[Host]) -> ClusterRead:
        return ClusterRead(
            id=cluster.id,
            name=cluster.name,
            moref=cluster.moref,
            datacenter=cluster.datacenter,
            vcenter_id=cluster.vcenter_id,
            status=cluster.status,
            host_count=len(hosts),
            iofilter=IoFilterState(
                version=cluster.iofilter_version, status=cluster.iofilter_status
            ),
            hosts=[HostRead.model_validate(h) for h in hosts],
        )

    async def page(
        self,
        model: type[Model],
        params: PageParams,
        name: str | None,
        cluster_id: str | None,
    ) -> PageResult[Model]:
        return await repository.list_page(
            self.session, model, params, name=name, cluster_id=cluster_id
        )

    async def sync(self, vcenter_id: str, inventory: Inventory) -> dict[str, int]:
        """Make the stored inventory match vCenter's; IDs stay stable across refreshes."""
        clusters = await self._reconcile(
            Cluster,
            vcenter_id,
            inventory.clusters,
            lambda c: {"name": c.name, "datacenter": c.datacenter},
        )
        cluster_ids = {moref: row.id for moref, row in clusters.items()}
        hosts = await self._reconcile(
            Host,
            vcenter_id,
            inventory.hosts,
            lambda h: {
                "name": h.name,
                "cluster_id": cluster_ids.get(h.cluster_moref or ""),
                "esxi_version": h.esxi_version,
                "esxi_build": h.esxi_build,
                "cim_enabled": h.cim_enabled,
                "in_maintenance": h.in_maintenance,
                "connection_state": h.connection_state,
            },
        )
        host_ids = {moref: row.id for moref, row in hosts.items()}
        datastores = await self._reconcile(
            Datastore,
            vcenter_id,
            inventory.datastores,
            lambda d: {
                "name": d.name,
                "type": d.type,
                "capacity_bytes": d.capacity_bytes,
                "free_bytes": d.free_bytes,
                "cluster_ids": [cluster_ids[m] for m in d.cluster_morefs if m in cluster_ids],
            },
        )
        datastore_ids = {moref: row.id for moref, row in datastores.items()}
        networks = await self._reconcile(
            Network, vcenter_id, inventory.networks, lambda n: {"name": n.name, "dhcp": n.dhcp}
        )
        vms = await self._reconcile(
            VirtualMachine,
            vcenter_id,
            inventory.vms,
            lambda v: {
                "name": v.name,
                "cluster_id": cluster_ids.get(v.cluster_moref or ""),
                "host_id": host_ids.get(v.host_moref or ""),
                "power_state": v.power_state,
                "cpu": v.cpu,
                "memory_mb": v.memory_mb,
                "guest_os": v.guest_os,
                "ip": v.ip,
                "iso_path": v.iso_path,
                "disks": [
                    {
                        "key": disk.key,
                        "label": disk.label,
                        "capacity_bytes": disk.capacity_bytes,
                        "datastore_id": datastore_ids.get(disk.datastore_moref),
                        "write_profile": dict(disk.write_profile),
                    }
                    for disk in v.disks
                ],
            },
        )
        return {
            "clusters": len(clusters),
            "hosts": len(hosts),
            "datastores": len(datastores),
            "networks": len(networks),
            "vms": len(vms),
        }

    async def _reconcile(
        self,
        model: type[Model],
        vcenter_id: str,
        records: Sequence[Any],
        values: Callable[[Any], dict[str, Any]],
    ) -> dict[str, Model]:
        existing = {
            row.moref: row for row in await repository.all_of(self.session, model, vcenter_id)
        }
        kept: dict[str, Model] = {}
        for record in records:
            row = existing.pop(record.moref, None)
            if row is None:
                row = model(id=new_id(_PREFIX[model]), vcenter_id=vcenter_id, moref=record.moref)
                self.session.add(row)
            for field, value in values(record).items():
                setattr(row, field, value)
            kept[record.moref] = row
        for gone in existing.values():
            await self.session.delete(gone)
        await self.session.flush()
        return kept


_PREFIX: dict[type[Any], str] = {
    Cluster: "cluster",
    Host: "host",
    Datastore: "ds",
    Network: "net",
    VirtualMachine: "vm",
}
