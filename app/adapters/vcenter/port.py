"""The only surface of vCenter the domain uses, with backend-neutral records."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Endpoint:
    hostname: str
    port: int
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class About:
    version: str
    build: str
    api_version: str
    instance_uuid: str
    server_time: dt.datetime


@dataclass(frozen=True)
class DiskInfo:
    key: int
    label: str
    capacity_bytes: int
    datastore_moref: str
    write_profile: dict[str, float | str]


@dataclass(frozen=True)
class ClusterInfo:
    moref: str
    name: str
    datacenter: str


@dataclass(frozen=True)
class HostInfo:
    moref: str
    name: str
    cluster_moref: str | None
    esxi_version: str
    esxi_build: str
    cim_enabled: bool
    in_maintenance: bool
    connection_state: str


@dataclass(frozen=True)
class DatastoreInfo:
    moref: str
    name: str
    type: str
    capacity_bytes: int
    free_bytes: int
    cluster_morefs: tuple[str, ...]


@dataclass(frozen=True)
class NetworkInfo:
    moref: str
    name: str
    dhcp: bool


@dataclass(frozen=True)
class VmInfo:
    moref: str
    name: str
    cluster_moref: str | None
    host_moref: str | None
    power_state: str
    cpu: int
    memory_mb: int
    guest_os: str
    ip: str | None
    disks: tuple[DiskInfo, ...]
    # The ISO in the VM's CD-ROM drive, as a datastore path.
    iso_path: str | None = None


@dataclass(frozen=True)
class Inventory:
    clusters: tuple[ClusterInfo, ...]
    hosts: tuple[HostInfo, ...]
    datastores: tuple[DatastoreInfo, ...]
    networks: tuple[NetworkInfo, ...]
    vms: tuple[VmInfo, ...]


@dataclass(frozen=True)
class Extension:
    key: str
    version: str
    label: str
    summary: str
    company: str
    server_url: str
    server_thumbprint: str | None = None


@dataclass(frozen=True)
class VmSpec:
    """A VM to create: a DRVA, a RocVA, a recovered or a test VM."""

    name: str
    cluster_moref: str
    datastore_moref: str
    network_moref: str
    cpu: int
    memory_mb: int
    host_moref: str | None = None
    guest_os: str = "otherLinux64Guest"
    # A datastore path ("[datastore] folder/file.iso") attached to a CD-ROM drive.
    iso_path: str | None = None
    disks_gb: tuple[int, ...] = ()
    # The workload each disk carries (the simulated backend writes it; see `DiskInfo`).
    disk_write_profiles: tuple[dict[str, float | str], ...] = ()
    # guestinfo.* keys the guest reads at boot (a DRVA takes its network settings from them).
    extra_config: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class HostFilterState:
    host_moref: str
    installed: bool
    version: str | None
    issue: str | None


@dataclass(frozen=True)
class ClusterFilter:
    """An IO filter on a cluster, as IoFilterManager reports it, with each host's outcome of
    the last install, upgrade or uninstall."""

    filter_id: str
    name: str
    vendor: str
    version: str
    op_type: str
    vib_url: str
    hosts: tuple[HostFilterState, ...]


@dataclass(frozen=True)
class MaintenanceRecord:
    host_moref: str
    entered_at: dt.datetime
    exited_at: dt.datetime | None


class VCenterSession(Protocol):
    """A logged-in connection to one vCenter."""

    async def about(self) -> About: ...

    async def inventory(self) -> Inventory: ...

    async def hosts(self) -> tuple[HostInfo, ...]:
        """The ESXi hosts alone, as `inventory` reports them (a heartbeat reads them often)."""
        ...

    async def find_extension(self, key: str) -> Extension | None: ...

    async def register_extension(self, extension: Extension) -> None: ...

    async def update_extension(self, extension: Extension) -> None: ...

    async def unregister_extension(self, key: str) -> None: ...

    async def install_iofilter(self, cluster_moref: str, vib_url: str) -> ClusterFilter:
        """InstallIoFilter_Task on a cluster; waits for the task. Hosts that fail carry an issue."""
        ...

    async def upgrade_iofilter(
        self, cluster_moref: str, filter_id: str, vib_url: str
    ) -> ClusterFilter: ...

    async def uninstall_iofilter(self, cluster_moref: str, filter_id: str) -> ClusterFilter | None:
        """None once the filter is gone from every host (it then drops out of the cluster)."""
        ...

    async def resolve_iofilter_errors(
        self, cluster_moref: str, filter_id: str
    ) -> ClusterFilter: ...

    async def query_iofilters(self, cluster_moref: str) -> tuple[ClusterFilter, ...]: ...

    async def create_role(self, name: str, clone_from: str) -> None:
        """A role with the privileges of `clone_from` (the AVS package clones CloudAdmin)."""
        ...

    async def delete_role(self, name: str) -> None: ...

    async def role_names(self) -> tuple[str, ...]: ...

    async def set_global_permission(self, principal: str, role: str) -> None: ...

    async def remove_global_permission(self, principal: str) -> None: ...

    async def global_permissions(self) -> dict[str, str]: ...

    async def upload_file(self, datastore_moref: str, path: str, content: bytes) -> str:
        """PUT a file onto a datastore (vCenter's /folder); returns its datastore path."""
        ...

    async def delete_file(self, datastore_moref: str, path: str) -> None: ...

    async def create_vm(self, spec: VmSpec) -> VmInfo: ...

    async def add_disk(self, vm_moref: str, datastore_moref: str, size_gb: int) -> DiskInfo:
        """A new thin disk on the VM (a DRVA's VMDK replication log)."""
        ...

    async def remove_disk(self, vm_moref: str, disk_key: int) -> None: ...

    async def get_vm(self, vm_moref: str) -> VmInfo: ...

    async def power_on_vm(self, vm_moref: str) -> None: ...

    async def power_off_vm(self, vm_moref: str) -> None: ...

    async def reconfigure_vm(self, vm_moref: str, cpu: int, memory_mb: int) -> VmInfo:
        """Changes a VM's vCPUs and memory; vCenter refuses it while the VM is powered on."""

    async def destroy_vm(self, vm_moref: str) -> None:
        """Powers the VM off first when it runs, then deletes it and its files."""
        ...

    async def logout(self) -> None: ...


class VCenterPort(Protocol):
    async def connect(self, endpoint: Endpoint) -> VCenterSession: ...

    async def reset(self) -> None:
        """Back to the seeded state (emulator reset)."""
        ...
