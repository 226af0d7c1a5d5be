"""The simulated vCenter's state (one JSON row per vCenter), seeded from a topology, and how
long its operations take in virtual time."""

from __future__ import annotations

import re

from pydantic import BaseModel

from app.adapters.vcenter.port import (
    ClusterFilter,
    ClusterInfo,
    DatastoreInfo,
    DiskInfo,
    Extension,
    HostInfo,
    MaintenanceRecord,
    NetworkInfo,
    VmInfo,
)
from app.adapters.vcenter.topology import GIB, Topology

# How long vCenter takes, in virtual seconds, to act on one host of a cluster, on a VM...
HOST_OPERATION_SECONDS = 20.0


MAINTENANCE_SECONDS = 10.0


VM_CREATE_SECONDS = 8.0


POWER_SECONDS = 5.0


UPLOAD_BYTES_PER_SECOND = 100 * 1024 * 1024
# The first moref of a VM created through the API (seeded VMs are vm-1001 on).
CREATED_VM_FIRST = 5001


VIB_FILE = re.compile(r"/(?P<name>[a-z0-9-]+)_(?P<version>[0-9][A-Za-z0-9.-]*)\.vib$")


BUILTIN_ROLES: dict[str, list[str]] = {
    "Admin": [
        "System.Anonymous",
        "System.Read",
        "System.View",
        "Host.Config.Patch",
        "Extension.Register",
    ],
    "ReadOnly": ["System.Anonymous", "System.Read", "System.View"],
    "CloudAdmin": [
        "System.Anonymous",
        "System.Read",
        "System.View",
        "Datastore.FileManagement",
        "Extension.Register",
        "Extension.Unregister",
        "Extension.Update",
        "Host.Config.Patch",
        "VirtualMachine.Inventory.Create",
        "VirtualMachine.Interact.PowerOn",
    ],
}


class SimulatedState(BaseModel):
    clusters: list[ClusterInfo]
    hosts: list[HostInfo]
    datastores: list[DatastoreInfo]
    networks: list[NetworkInfo]
    vms: list[VmInfo]
    extensions: dict[str, Extension] = {}
    iofilters: dict[str, list[ClusterFilter]] = {}
    maintenance: list[MaintenanceRecord] = []
    roles: dict[str, list[str]] = {}
    permissions: dict[str, str] = {}
    # Fault injection: filter operations fail on these host names.
    failing_hosts: list[str] = []
    # datastore moref -> path -> (size in bytes, sha256) of files uploaded to it
    files: dict[str, dict[str, tuple[int, str]]] = {}
    # VM moref -> its guestinfo.* settings
    guestinfo: dict[str, dict[str, str]] = {}
    next_vm: int = CREATED_VM_FIRST


def seed_state(topology: Topology) -> SimulatedState:
    clusters: list[ClusterInfo] = []
    hosts: list[HostInfo] = []
    datastores: list[DatastoreInfo] = []
    networks: list[NetworkInfo] = []
    cluster_moref: dict[str, str] = {}
    host_moref: dict[str, tuple[str, str]] = {}
    datastore_moref: dict[str, str] = {}
    for dc in topology.datacenters:
        for cluster in dc.clusters:
            moref = f"domain-c{len(clusters) + 8}"
            cluster_moref[cluster.name] = moref
            clusters.append(ClusterInfo(moref=moref, name=cluster.name, datacenter=dc.name))
            for host in cluster.hosts:
                host_ref = f"host-{len(hosts) + 12}"
                host_moref[host.name] = (host_ref, moref)
                hosts.append(
                    HostInfo(
                        moref=host_ref,
                        name=host.name,
                        cluster_moref=moref,
                        esxi_version=host.esxi_version,
                        esxi_build=host.esxi_build,
                        cim_enabled=host.cim_enabled,
                        in_maintenance=host.in_maintenance,
                        connection_state=host.connection_state,
                    )
                )
        for ds in dc.datastores:
            moref = f"datastore-{len(datastores) + 30}"
            datastore_moref[ds.name] = moref
            datastores.append(
                DatastoreInfo(
                    moref=moref,
                    name=ds.name,
                    type=ds.type,
                    capacity_bytes=ds.capacity_gb * GIB,
                    free_bytes=ds.free_gb * GIB,
                    cluster_morefs=tuple(cluster_moref[name] for name in ds.clusters),
                )
            )
        for net in dc.networks:
            networks.append(
                NetworkInfo(moref=f"network-{len(networks) + 40}", name=net.name, dhcp=net.dhcp)
            )
    vms: list[VmInfo] = []
    first_datastore = datastores[0].moref if datastores else ""
    for index, vm in enumerate(topology.vms):
        host_ref, vm_cluster = host_moref[vm.host]
        vm_datastore = datastore_moref[vm.datastore] if vm.datastore else first_datastore
        disks = tuple(
            DiskInfo(
                key=2000 + position,
                label=f"Hard disk {position + 1}",
                capacity_bytes=disk.size_gb * GIB,
                datastore_moref=vm_datastore,
                write_profile={
                    "name": disk.profile,
                    **topology.write_profiles[disk.profile].model_dump(),
                },
            )
            for position, disk in enumerate(vm.disks)
        )
        powered_on = vm.power_state == "poweredOn"
        vms.append(
            VmInfo(
                moref=f"vm-{index + 1001}",
                name=vm.name,
                cluster_moref=vm_cluster,
                host_moref=host_ref,
                power_state=vm.power_state,
                cpu=vm.cpu,
                memory_mb=vm.memory_gb * 1024,
                guest_os=vm.guest_os,
                ip=_seeded_ip(index) if powered_on else None,
                disks=disks,
            )
        )
    return SimulatedState(
        clusters=clusters,
        hosts=hosts,
        datastores=datastores,
        networks=networks,
        vms=vms,
        roles={name: list(privileges) for name, privileges in BUILTIN_ROLES.items()},
        # Created VMs are numbered after the seeded ones (vm-1001 on), however many there are.
        next_vm=max(CREATED_VM_FIRST, 1001 + len(vms)),
    )


def _seeded_ip(index: int) -> str:
    """10.10.1.21 on for the first VMs (what topologies have always had); a topology of more
    than 234 keeps valid, distinct addresses in 10.12.0.0/16."""
    host = index + 21
    return f"10.10.1.{host}" if host < 255 else f"10.12.{host // 256}.{host % 256}"
