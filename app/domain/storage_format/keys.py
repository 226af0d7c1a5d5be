"""Where each object of a domain's container lives (see the package's docstring)."""

from __future__ import annotations

from app.adapters.objectstore.port import ObjectStore

MANIFEST = "manifest.json"
SEGMENTS = "segments/"
CHECKPOINTS = "checkpoints/"
RECOVERY_POINTS = "recovery-points/"


def vm_config_key(vm_id: str) -> str:
    return f"vms/{vm_id}/config.json"


def generation_prefix(prefix: str, generation: int) -> str:
    return f"{prefix}{generation:06d}/"


def segment_key(generation: int, from_epoch: int, to_epoch: int, seq: int) -> str:
    name = f"{from_epoch:012d}-{to_epoch:012d}-{seq:08d}.json"
    return f"{generation_prefix(SEGMENTS, generation)}{name}"


def recovery_point_key(generation: int, epoch: int) -> str:
    return f"{generation_prefix(RECOVERY_POINTS, generation)}{epoch:012d}.json"


def checkpoint_key(generation: int, epoch: int) -> str:
    return f"{generation_prefix(CHECKPOINTS, generation)}{epoch:012d}.json"


def generation_of(key: str) -> int:
    return int(key.split("/")[1])


def epochs_of(key: str) -> list[int]:
    return [int(part) for part in key.rsplit("/", 1)[1].removesuffix(".json").split("-")]


async def recovery_point_epochs(store: ObjectStore, container: str, generation: int) -> list[int]:
    """The recovery points of a generation, oldest first."""
    keys = await store.list(container, generation_prefix(RECOVERY_POINTS, generation))
    return sorted(epochs_of(key)[0] for key in keys)
