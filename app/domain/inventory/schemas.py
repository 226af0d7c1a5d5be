from __future__ import annotations

from typing import Any

from app.core.schemas import ApiModel


class IoFilterState(ApiModel):
    version: str | None
    status: str


class HostRead(ApiModel):
    id: str
    name: str
    moref: str
    cluster_id: str | None
    esxi_version: str
    esxi_build: str
    cim_enabled: bool
    in_maintenance: bool
    connection_state: str
    iofilter_status: str
    issue: str | None


class ClusterRead(ApiModel):
    id: str
    name: str
    moref: str
    datacenter: str
    vcenter_id: str
    status: str
    host_count: int
    iofilter: IoFilterState
    hosts: list[HostRead]


class DatastoreRead(ApiModel):
    id: str
    name: str
    moref: str
    type: str
    capacity_bytes: int
    free_bytes: int
    cluster_ids: list[str]


class NetworkRead(ApiModel):
    id: str
    name: str
    moref: str
    dhcp: bool


class DiskRead(ApiModel):
    key: int
    label: str
    capacity_bytes: int
    datastore_id: str | None
    write_profile: dict[str, Any]


class VmRead(ApiModel):
    id: str
    name: str
    moref: str
    cluster_id: str | None
    host_id: str | None
    power_state: str
    cpu: int
    memory_mb: int
    guest_os: str
    ip: str | None
    iso_path: str | None
    disks: list[DiskRead]
