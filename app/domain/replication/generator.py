"""The deterministic write generator behind every protected disk.

A disk is a miniature block map of `REGIONS` regions. Time is cut into epochs of
`EPOCH_SECONDS`; during each epoch a disk with a non-zero write profile rewrites one region,
chosen, like the new content, by a hash of the disk's seed and the epoch. The bytes an epoch
writes follow the write profile exactly (IOPS x IO size), so log usage, bandwidth and RPO are
realistic while the content map stays small. An epoch's writes land at its end: the disk's
state at time `t` holds every epoch `e` with `(e + 1) * EPOCH_SECONDS <= t`.

Because the content is a pure function of (seed, epoch), the state of a source disk at any time
can be recomputed, and a replica rebuilt from the object store can be compared with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.domain.storage_format.epochs import BASE_EPOCH, EPOCH_SECONDS

REGIONS = 64
assert 256 % REGIONS == 0, "`records` takes a region from one byte of a hash"

# A region's content and the epoch that wrote it.
RegionState = tuple[int, str]
DiskState = dict[int, RegionState]


@dataclass(frozen=True)
class DiskGenerator:
    key: int
    seed: str
    capacity_bytes: int
    bytes_per_epoch: int
    # The content of each region before the first write, when the disk was recovered from a
    # replica (otherwise a function of the seed).
    image: tuple[str, ...] | None = None

    @classmethod
    def from_profile(
        cls,
        vm_id: str,
        key: int,
        capacity_bytes: int,
        write_iops: float,
        write_kb: float,
        image: tuple[str, ...] | None = None,
    ) -> DiskGenerator:
        written = write_iops * EPOCH_SECONDS * write_kb * 1024
        return cls(
            key=key,
            seed=f"{vm_id}/{key}",
            capacity_bytes=capacity_bytes,
            bytes_per_epoch=round(written),
            image=image,
        )

    def write(self, epoch: int) -> tuple[int, str] | None:
        """The region an epoch rewrites and its new content; None for a disk that never writes."""
        if self.bytes_per_epoch <= 0:
            return None
        digest = hashlib.blake2b(f"{self.seed}:{epoch}".encode(), digest_size=10).digest()
        return int.from_bytes(digest[:2]) % REGIONS, digest[2:].hex()

    def base(self) -> DiskState:
        if self.image is not None:
            return {region: (BASE_EPOCH, content) for region, content in enumerate(self.image)}
        return {
            region: (
                BASE_EPOCH,
                hashlib.blake2b(f"{self.seed}:base:{region}".encode(), digest_size=8).hexdigest(),
            )
            for region in range(REGIONS)
        }

    def state(self, origin_epoch: int, until_epoch: int) -> DiskState:
        """The disk at the start of `until_epoch`, writing since `origin_epoch`."""
        state = self.base()
        for epoch in range(origin_epoch, until_epoch):
            written = self.write(epoch)
            if written is not None:
                state[written[0]] = (epoch, written[1])
        return state

    def records(self, from_epoch: int, until_epoch: int) -> list[tuple[int, int, str]]:
        """`touched` as a segment's (region, epoch, content) records, in the same order; the
        hash of `write` is inlined, since a step runs it for every disk and epoch it ships.
        `digest[1] % REGIONS` is `write`'s region (256 is a multiple of `REGIONS`), and only
        the last write of a region is turned into text."""
        if self.bytes_per_epoch <= 0:
            return []
        last: dict[int, tuple[int, bytes]] = {}
        prefix = f"{self.seed}:".encode()
        blake2b = hashlib.blake2b
        for epoch in range(from_epoch, until_epoch):
            digest = blake2b(b"%b%d" % (prefix, epoch), digest_size=10).digest()
            last[digest[1] % REGIONS] = (epoch, digest)
        return [(region, epoch, digest[2:].hex()) for region, (epoch, digest) in last.items()]

    def touched(self, from_epoch: int, until_epoch: int) -> DiskState:
        """The last write to each region rewritten in [from_epoch, until_epoch)."""
        touched: DiskState = {}
        for epoch in range(from_epoch, until_epoch):
            written = self.write(epoch)
            if written is not None:
                touched[written[0]] = (epoch, written[1])
        return touched


def digest(disks: Mapping[int, Mapping[int, RegionState]]) -> str:
    """One digest for a VM's disks: content only, so a replica and its source compare equal."""
    hasher = hashlib.sha256()
    for key in sorted(disks):
        regions = disks[key]
        hasher.update(f"disk {key}\n".encode())
        for region in range(REGIONS):
            state = regions.get(region)
            hasher.update(f"{region}={state[1] if state else ''}\n".encode())
    return hasher.hexdigest()


def merge(into: DiskState, records: Iterable[tuple[int, int, str]]) -> None:
    """Apply (region, epoch, content) records; the newest epoch of a region wins, so applying
    the same record twice, or in any order, gives the same disk."""
    for region, epoch, content in records:
        current = into.get(region)
        if current is None or epoch >= current[0]:
            into[region] = (epoch, content)


def image_of(state: Mapping[int, RegionState]) -> tuple[str, ...]:
    """A recovered disk's content, region by region (a region never written is empty)."""
    return tuple(state[region][1] if region in state else "" for region in range(REGIONS))
