from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, model_validator

from app.core.schemas import ApiModel, RequestModel, Timestamp

IQN = re.compile(r"^iqn\.\d{4}-\d{2}\.[a-z0-9.-]+(:[^\s]+)?$")


class DrvaImageRead(ApiModel):
    id: str
    version: str
    file_name: str
    size_bytes: int
    sha256: str


class DrvaCreate(RequestModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,60}$")
    cluster_id: str
    host_id: str | None = None
    count: int | None = Field(default=None, ge=1, le=64)
    one_per_host: bool = False
    datastore_id: str
    network_id: str
    ip_mode: Literal["dhcp", "static"] = "dhcp"
    ip: str | None = None
    netmask: str | None = None
    gateway: str | None = None
    dns: list[str] = Field(default_factory=list, max_length=4)
    cpu: int = Field(default=4, ge=2, le=64)
    memory_gb: int = Field(default=8, ge=4, le=512)

    @model_validator(mode="after")
    def _network_settings(self) -> DrvaCreate:
        if self.count is not None and self.host_id is not None and self.count > 1:
            raise ValueError("give host_id for one DRVA, or count to let the appliance place them")
        if self.one_per_host and (self.count is not None or self.host_id is not None):
            raise ValueError("one_per_host places the DRVAs itself: no count or host_id with it")
        for server in self.dns:
            ipaddress.ip_address(server)
        if self.ip_mode == "dhcp":
            if self.ip or self.netmask or self.gateway:
                raise ValueError("ip, netmask and gateway go with ip_mode=static")
            return self
        if (self.count or 1) > 1 or self.one_per_host:
            raise ValueError("static addresses are given one DRVA at a time (count must be 1)")
        if not (self.ip and self.netmask and self.gateway):
            raise ValueError("ip_mode=static needs ip, netmask and gateway")
        network = ipaddress.ip_network(f"{self.ip}/{self.netmask}", strict=False)
        if ipaddress.ip_address(self.gateway) not in network:
            raise ValueError(f"gateway {self.gateway} is not in {network}")
        if ipaddress.ip_address(self.ip) in (network.network_address, network.broadcast_address):
            raise ValueError(f"{self.ip} is not a host address of {network}")
        return self

    @property
    def many(self) -> bool:
        return self.count is not None or self.one_per_host


class VolumeCreate(RequestModel):
    type: Literal["vmdk", "iscsi"]
    size_gb: int = Field(ge=10, le=16384)
    datastore_id: str | None = None
    iscsi_target: str | None = Field(default=None, max_length=223)
    lun: int | None = Field(default=None, ge=0, le=16383)

    @model_validator(mode="after")
    def _backing(self) -> VolumeCreate:
        if self.type == "vmdk":
            if self.datastore_id is None or self.iscsi_target or self.lun is not None:
                raise ValueError("a vmdk volume takes datastore_id (and no iscsi_target or lun)")
        else:
            if self.iscsi_target is None or self.lun is None or self.datastore_id:
                raise ValueError("an iscsi volume takes iscsi_target and lun (and no datastore_id)")
            if not IQN.match(self.iscsi_target):
                raise ValueError(f"{self.iscsi_target} is not an iSCSI qualified name (iqn.)")
        return self


class VolumeRead(ApiModel):
    id: str
    drva_id: str
    type: str
    size_gb: int
    datastore_id: str | None
    iscsi_target: str | None
    lun: int | None
    used_bytes: int
    usage_percent: float
    status: str
    created_at: Timestamp


class DrvaRead(ApiModel):
    id: str
    name: str
    status: str
    cluster_id: str
    host_id: str
    datastore_id: str
    network_id: str
    vm_id: str | None
    vm_moref: str | None
    ip_mode: str
    ip: str | None
    version: str
    cpu: int
    memory_gb: int
    iso_path: str | None
    active_task_id: str | None
    domains: list[str]
    replication_log_volumes: list[VolumeRead]
    created_at: Timestamp
