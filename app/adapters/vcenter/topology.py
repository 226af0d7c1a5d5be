"""Topology files: the inventory a simulated vCenter starts from."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

BUILTIN_DIR = Path(__file__).resolve().parent / "topologies"
GIB = 1024**3


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VCenterSpec(_Strict):
    hostname: str
    ip: str | None = None
    username: str
    password: str = Field(repr=False)
    version: str
    build: str
    api_version: str
    instance_uuid: str
    clock_skew_seconds: float = 0.0


class HostSpec(_Strict):
    name: str
    esxi_version: str
    esxi_build: str
    cim_enabled: bool = True
    in_maintenance: bool = False
    connection_state: Literal["connected", "disconnected", "notResponding"] = "connected"


class ClusterSpec(_Strict):
    name: str
    hosts: list[HostSpec]


class DatastoreSpec(_Strict):
    name: str
    type: Literal["vsan", "vmfs", "nfs", "vvol"]
    capacity_gb: int = Field(gt=0)
    free_gb: int = Field(ge=0)
    clusters: list[str] = []


class NetworkSpec(_Strict):
    name: str
    dhcp: bool = False


class DatacenterSpec(_Strict):
    name: str
    clusters: list[ClusterSpec]
    datastores: list[DatastoreSpec]
    networks: list[NetworkSpec]


class WriteProfile(_Strict):
    write_iops: float = Field(ge=0)
    write_kb: float = Field(gt=0)


class DiskSpec(_Strict):
    size_gb: int = Field(gt=0)
    profile: str


class VmSpec(_Strict):
    name: str
    host: str
    cpu: int = Field(default=2, ge=1)
    memory_gb: int = Field(default=4, ge=1)
    guest_os: str = "ubuntu64Guest"
    power_state: Literal["poweredOn", "poweredOff"] = "poweredOn"
    datastore: str | None = None
    disks: list[DiskSpec]


class Topology(_Strict):
    site_name: str
    vcenter: VCenterSpec
    datacenters: list[DatacenterSpec]
    write_profiles: dict[str, WriteProfile] = {}
    vms: list[VmSpec] = []

    @model_validator(mode="after")
    def _references_resolve(self) -> Topology:
        hosts = {host.name for dc in self.datacenters for c in dc.clusters for host in c.hosts}
        clusters = {cluster.name for dc in self.datacenters for cluster in dc.clusters}
        datastores = {ds.name for dc in self.datacenters for ds in dc.datastores}
        for dc in self.datacenters:
            for ds in dc.datastores:
                unknown = set(ds.clusters) - clusters
                if unknown:
                    raise ValueError(f"datastore {ds.name} names unknown clusters {unknown}")
        names = [vm.name for vm in self.vms]
        if len(names) != len(set(names)):
            raise ValueError("VM names must be unique")
        for vm in self.vms:
            if vm.host not in hosts:
                raise ValueError(f"VM {vm.name} is on unknown host {vm.host}")
            if vm.datastore is not None and vm.datastore not in datastores:
                raise ValueError(f"VM {vm.name} is on unknown datastore {vm.datastore}")
            for disk in vm.disks:
                if disk.profile not in self.write_profiles:
                    raise ValueError(f"VM {vm.name} uses unknown write profile {disk.profile}")
        return self


class TopologyError(ValueError):
    pass


def load_topology(name_or_path: str) -> Topology:
    """`protected`, `recovery`, `avs-recovery`, or a path to a topology YAML file."""
    builtin = BUILTIN_DIR / f"{name_or_path}.yaml"
    path = builtin if builtin.is_file() else Path(name_or_path)
    if not path.is_file():
        raise TopologyError(
            f"topology {name_or_path!r} is neither built in (protected, recovery, avs-recovery) "
            "nor a file"
        )
    try:
        return Topology.model_validate(yaml.safe_load(path.read_text()))
    except (yaml.YAMLError, ValidationError) as error:
        raise TopologyError(f"topology {path} is invalid: {error}") from error
