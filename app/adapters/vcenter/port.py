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


class VCenterSession(Protocol):
    """A logged-in connection to one vCenter."""

    async def about(self) -> About: ...

    async def inventory(self) -> Inventory: ...

    async def find_extension(self, key: str) -> Extension | None: ...

    async def register_extension(self, extension: Extension) -> None: ...

    async def update_extension(self, extension: Extension) -> None: ...

    async def unregister_extension(self, key: str) -> None: ...

    async def logout(self) -> None: ...


class VCenterPort(Protocol):
    async def connect(self, endpoint: Endpoint) -> VCenterSession: ...

    async def reset(self) -> None:
        """Back to the seeded state (emulator reset)."""
        ...
