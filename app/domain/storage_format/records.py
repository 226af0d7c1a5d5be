"""The records a domain's container holds beside its manifest and segments: one per recovery
point (the index a recovery lists), and each protected VM's configuration (what a recovery site
needs to recreate it)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Any, NotRequired, TypedDict, cast

from app.adapters.objectstore.errors import ObjectNotFound
from app.adapters.objectstore.port import ObjectStore
from app.domain.storage_format.keys import recovery_point_key, vm_config_key

VM_CONFIG_FORMAT = 1


class RecoveryPointRecord(TypedDict):
    epoch: int
    timestamp: str
    # Every protected VM is in it (a VM still in its initial sync is not).
    consistent: bool
    generation: int
    vm_ids: list[str]  # replica keys


class VmDisk(TypedDict):
    key: int
    label: NotRequired[str | None]
    capacity_bytes: int
    # The workload moves with the VM: a recovered VM keeps writing like this.
    write_profile: dict[str, Any]


class VmConfig(TypedDict):
    format: int
    vm_id: str
    moref: str
    name: str
    cpu: int
    memory_mb: int
    guest_os: str
    protection_mode: str
    disks: list[VmDisk]


def recovery_point(
    generation: int, epoch: int, at: dt.datetime, consistent: bool, vm_ids: list[str]
) -> RecoveryPointRecord:
    return {
        "epoch": epoch,
        "timestamp": at.isoformat(),
        "consistent": consistent,
        "generation": generation,
        "vm_ids": vm_ids,
    }


def encode_recovery_point(record: RecoveryPointRecord) -> bytes:
    return json.dumps(record).encode()


def encode_vm_config(config: VmConfig) -> bytes:
    return json.dumps(config, indent=2).encode()


async def read_recovery_point(
    store: ObjectStore, container: str, generation: int, epoch: int
) -> RecoveryPointRecord | None:
    """The record, or None when it is gone (compacted) or unreadable; the store's other errors
    are raised."""
    try:
        body = json.loads(await store.get(container, recovery_point_key(generation, epoch)))
    except (ObjectNotFound, ValueError):
        return None
    return cast(RecoveryPointRecord, body) if isinstance(body, dict) else None


async def read_vm_config(store: ObjectStore, container: str, vm_key: str) -> VmConfig | None:
    try:
        body = json.loads(await store.get(container, vm_config_key(vm_key)))
    except (ObjectNotFound, ValueError):
        return None
    return cast(VmConfig, body) if isinstance(body, dict) else None


async def read_vm_configs(store: ObjectStore, container: str) -> dict[str, VmConfig]:
    """replica key -> the VM configuration the protected site stored beside its data."""
    keys = [key for key in await store.list(container, "vms/") if key.endswith("/config.json")]
    configs: dict[str, VmConfig] = {}
    for key in keys:
        with contextlib.suppress(ObjectNotFound, ValueError):
            body = json.loads(await store.get(container, key))
            if isinstance(body, dict):
                configs[key.split("/")[1]] = cast(VmConfig, body)
    return configs
