"""Reading vCenter: `about` and the inventory (datacenters, clusters, hosts, datastores,
networks, VMs)."""

from __future__ import annotations

import datetime as dt

from pyVmomi import vim

from app.adapters.vcenter.port import (
    About,
    ClusterInfo,
    DatastoreInfo,
    DiskInfo,
    HostInfo,
    Inventory,
    NetworkInfo,
    VmInfo,
)
from app.adapters.vcenter.vsphere.base import (
    UNKNOWN_PROFILE,
    SessionBase,
)


class Reading(SessionBase):
    def _about(self) -> About:
        about = self._content.about
        server_time = self._si.CurrentTime()
        return About(
            version=about.version,
            build=about.build,
            api_version=about.apiVersion,
            instance_uuid=about.instanceUuid or "",
            server_time=server_time.astimezone(dt.UTC),
        )

    async def about(self) -> About:
        return await self._run(self._about)

    def _clusters(self) -> list[ClusterInfo]:
        clusters = []
        for moref, props in self._collect(vim.ClusterComputeResource, ["name"]):
            cluster = vim.ClusterComputeResource(moref, self._si._stub)
            clusters.append(ClusterInfo(moref, props["name"], self._datacenter_of(cluster)))
        return clusters

    def _hosts(self, cluster_ids: set[str]) -> list[HostInfo]:
        hosts = []
        for moref, props in self._collect(
            vim.HostSystem,
            [
                "name",
                "parent",
                "summary.config.product",
                "runtime.connectionState",
                "runtime.inMaintenanceMode",
            ],
        ):
            parent = props.get("parent")
            cluster_moref = (
                parent._moId if parent is not None and parent._moId in cluster_ids else None
            )
            product = props.get("summary.config.product")
            hosts.append(
                HostInfo(
                    moref=moref,
                    name=props["name"],
                    cluster_moref=cluster_moref,
                    esxi_version=getattr(product, "version", "") or "",
                    esxi_build=getattr(product, "build", "") or "",
                    # vSphere exposes no CIM flag on the host object; CIM is on by default.
                    cim_enabled=True,
                    in_maintenance=bool(props.get("runtime.inMaintenanceMode")),
                    connection_state=str(props.get("runtime.connectionState", "connected")),
                )
            )
        return hosts

    async def hosts(self) -> tuple[HostInfo, ...]:
        def read() -> tuple[HostInfo, ...]:
            cluster_ids = {
                moref for moref, _ in self._collect(vim.ClusterComputeResource, ["name"])
            }
            return tuple(self._hosts(cluster_ids))

        return await self._run(read)

    def _inventory(self) -> Inventory:
        clusters = self._clusters()
        cluster_ids = {c.moref for c in clusters}
        hosts = self._hosts(cluster_ids)
        host_cluster = {h.moref: h.cluster_moref for h in hosts}
        datastores = []
        for moref, props in self._collect(
            vim.Datastore, ["name", "summary.type", "summary.capacity", "summary.freeSpace", "host"]
        ):
            mounted = {host_cluster.get(mount.key._moId) for mount in props.get("host") or []}
            datastores.append(
                DatastoreInfo(
                    moref=moref,
                    name=props["name"],
                    type=str(props.get("summary.type", "")).lower(),
                    capacity_bytes=int(props.get("summary.capacity") or 0),
                    free_bytes=int(props.get("summary.freeSpace") or 0),
                    cluster_morefs=tuple(sorted(c for c in mounted if c)),
                )
            )
        networks = [
            # vSphere does not know which segment serves DHCP; by convention its name says so.
            NetworkInfo(moref=moref, name=props["name"], dhcp="dhcp" in props["name"].lower())
            for moref, props in self._collect(vim.Network, ["name"])
        ]
        vms = []
        for moref, props in self._collect(
            vim.VirtualMachine,
            [
                "name",
                "runtime.host",
                "runtime.powerState",
                "config.hardware.numCPU",
                "config.hardware.memoryMB",
                "config.hardware.device",
                "config.guestId",
                "guest.ipAddress",
            ],
        ):
            host = props.get("runtime.host")
            host_moref = host._moId if host is not None else None
            disks = tuple(
                DiskInfo(
                    key=device.key,
                    label=device.deviceInfo.label if device.deviceInfo else f"disk {device.key}",
                    capacity_bytes=int(device.capacityInBytes or device.capacityInKB * 1024),
                    datastore_moref=getattr(
                        getattr(device.backing, "datastore", None), "_moId", ""
                    ),
                    write_profile=dict(UNKNOWN_PROFILE),
                )
                for device in props.get("config.hardware.device") or []
                if isinstance(device, vim.vm.device.VirtualDisk)
            )
            isos = [
                getattr(device.backing, "fileName", None)
                for device in props.get("config.hardware.device") or []
                if isinstance(device, vim.vm.device.VirtualCdrom)
            ]
            vms.append(
                VmInfo(
                    moref=moref,
                    name=props["name"],
                    iso_path=next((iso for iso in isos if iso), None),
                    cluster_moref=host_cluster.get(host_moref or ""),
                    host_moref=host_moref,
                    power_state=str(props.get("runtime.powerState", "poweredOff")),
                    cpu=int(props.get("config.hardware.numCPU") or 1),
                    memory_mb=int(props.get("config.hardware.memoryMB") or 0),
                    guest_os=str(props.get("config.guestId") or "otherGuest"),
                    ip=props.get("guest.ipAddress"),
                    disks=disks,
                )
            )
        return Inventory(
            tuple(clusters), tuple(hosts), tuple(datastores), tuple(networks), tuple(vms)
        )

    async def inventory(self) -> Inventory:
        return await self._run(self._inventory)
