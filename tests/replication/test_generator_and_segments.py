"""The write generator is deterministic, and a replica rebuilt from segments and checkpoints
equals the source whatever order the records arrive in, or if a compaction is interrupted."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from app.adapters.objectstore.local import LocalObjectStore
from app.domain.replication.generator import REGIONS, DiskGenerator, digest, image_of
from app.domain.replication.segments import RecoveryPointGone, Segment, compact, rebuild
from app.domain.storage_format.keys import recovery_point_epochs, recovery_point_key


def disk(write_iops: float = 40) -> DiskGenerator:
    return DiskGenerator.from_profile("vm-1", 2000, 40 * 1024**3, write_iops, 16)


def test_the_generator_is_deterministic_and_follows_the_profile() -> None:
    first, again = disk(), disk()
    assert first.bytes_per_epoch == 40 * 10 * 16 * 1024
    assert first.state(100, 400) == again.state(100, 400)
    assert first.state(100, 400) != first.state(100, 401)
    assert len(first.base()) == REGIONS
    assert disk(write_iops=0).write(5) is None
    assert disk(write_iops=0).state(0, 1000) == disk(write_iops=0).base()
    other = DiskGenerator.from_profile("vm-2", 2000, 40 * 1024**3, 40, 16)
    assert digest({2000: other.state(100, 200)}) != digest({2000: first.state(100, 200)})


async def ship(
    store: LocalObjectStore, generator: DiskGenerator, bounds: list[int], generation: int = 1
) -> None:
    """Base at bounds[0], then one log segment per consecutive pair, in reverse order."""
    base = Segment("base", generation, bounds[0], bounds[0], 0)
    base.add("vm-1", generator.key, ((r, s[0], s[1]) for r, s in generator.base().items()))
    await store.put("c", base.key, base.encode("pd"))
    for seq, (start, end) in reversed(list(enumerate(itertools.pairwise(bounds), 1))):
        segment = Segment("log", generation, start, end, seq)
        touched = generator.touched(start, end)
        segment.add("vm-1", generator.key, ((r, s[0], s[1]) for r, s in touched.items()))
        await store.put("c", segment.key, segment.encode("pd"))


async def test_rebuild_equals_the_source_at_every_segment_boundary(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    await store.create_container("c")
    generator = disk()
    bounds = [1000, 1006, 1012, 1030, 1031]
    await ship(store, generator, bounds)
    for boundary in bounds:
        replica = await rebuild(store, "c", 1, boundary)
        assert digest(replica["vm-1"]) == digest({2000: generator.state(1000, boundary)})


async def test_compaction_keeps_later_points_and_tolerates_leftovers(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    await store.create_container("c")
    generator = disk()
    bounds = [1000, 1006, 1012, 1030, 1031]
    await ship(store, generator, bounds)
    for epoch in bounds[1:]:
        await store.put("c", recovery_point_key(1, epoch), b"{}")
    merged = sorted(await store.list("c", "segments/"))[:3]
    leftovers = {key: await store.get("c", key) for key in merged}
    assert await compact(store, "c", "pd", 1, 1012) == 3
    assert await store.list("c", "checkpoints/") == ["checkpoints/000001/000000001012.json"]
    assert await store.list("c", "recovery-points/") == [
        "recovery-points/000001/000000001012.json",
        "recovery-points/000001/000000001030.json",
        "recovery-points/000001/000000001031.json",
    ]
    for boundary in (1012, 1030, 1031):
        replica = await rebuild(store, "c", 1, boundary)
        assert digest(replica["vm-1"]) == digest({2000: generator.state(1000, boundary)})
    # A compaction that died after writing its checkpoint leaves the merged segments behind:
    # applied twice, they change nothing, and the next compaction removes them.
    for key, body in leftovers.items():
        await store.put("c", key, body)
    replica = await rebuild(store, "c", 1, 1031)
    assert digest(replica["vm-1"]) == digest({2000: generator.state(1000, 1031)})
    assert await compact(store, "c", "pd", 1, 1030) == 4
    assert await store.list("c", "checkpoints/") == ["checkpoints/000001/000000001030.json"]
    replica = await rebuild(store, "c", 1, 1031)
    assert digest(replica["vm-1"]) == digest({2000: generator.state(1000, 1031)})


async def test_a_takeover_generation_rebuilds_from_its_own_base(tmp_path: Path) -> None:
    """The site that takes a domain over writes the recovered image as its base: its replica
    never mixes in what the former owner shipped after the recovery point, whatever the two
    clocks say, and its first compaction drops the former generation."""
    store = LocalObjectStore(tmp_path)
    await store.create_container("c")
    first = disk()
    await ship(store, first, [1000, 1006, 1012, 1030])
    recovered = image_of((await rebuild(store, "c", 1, 1012))["vm-1"][2000])
    assert recovered == image_of(first.state(1000, 1012))
    # The new owner's clock is behind the old one: epochs 500.. come after epoch 1030 here.
    second = DiskGenerator.from_profile("vm-9", 2000, 40 * 1024**3, 40, 16, image=recovered)
    await ship(store, second, [500, 510, 520], generation=2)
    replica = await rebuild(store, "c", 2, 520)
    assert digest(replica["vm-1"]) == digest({2000: second.state(500, 520)})
    assert digest(replica["vm-1"]) != digest({2000: first.state(1000, 1030)})
    assert second.state(500, 500) == {r: (-1, c) for r, c in enumerate(recovered)}
    await store.put("c", recovery_point_key(2, 510), b"{}")
    await store.put("c", recovery_point_key(2, 520), b"{}")
    assert await recovery_point_epochs(store, "c", 2) == [510, 520]
    assert await compact(store, "c", "pd", 2, 510) == 2
    assert not [key for key in await store.list("c") if "/000001/" in key]
    replica = await rebuild(store, "c", 2, 520)
    assert digest(replica["vm-1"]) == digest({2000: second.state(500, 520)})


class CompactingWhileRead(LocalObjectStore):
    """A store whose owner compacts the container right after the first segment is read."""

    compacted = False

    async def get(self, container: str, key: str) -> bytes:
        body = await super().get(container, key)
        if key.startswith("segments/") and not self.compacted:
            self.compacted = True
            await compact(self, container, "pd", 1, 1012)
        return body


async def test_a_rebuild_torn_by_a_compaction_reads_again(tmp_path: Path) -> None:
    store = CompactingWhileRead(tmp_path)
    await store.create_container("c")
    generator = disk()
    await ship(store, generator, [1000, 1006, 1012, 1030, 1031])
    replica = await rebuild(store, "c", 1, 1031)
    assert store.compacted
    assert digest(replica["vm-1"]) == digest({2000: generator.state(1000, 1031)})
    # A point older than the checkpoint is gone: the rebuild says so rather than guessing.
    with pytest.raises(RecoveryPointGone):
        await rebuild(store, "c", 1, 1006)


def test_a_disks_records_are_its_touched_regions_in_order() -> None:
    disk = DiskGenerator.from_profile("vm-7", 2000, 2 * 1024**3, 20.0, 8.0)
    for start, end in ((0, 1), (10, 40), (100, 400), (5, 5)):
        touched = disk.touched(start, end)
        assert disk.records(start, end) == [(r, e, c) for r, (e, c) in touched.items()]
    idle = DiskGenerator.from_profile("vm-8", 2000, 1024**3, 0.0, 4.0)
    assert idle.records(0, 50) == [] and idle.touched(0, 50) == {}
