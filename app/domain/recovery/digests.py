"""Digests of protected disks: the source's from the write generator, the replica's rebuilt
from the object store. A recovery is right when the two agree at a recovery point."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.objectstore.errors import ObjectStoreError
from app.core.errors import InvalidState, NotFound, ServiceUnavailable, ValidationFailed
from app.domain.platform import Platform
from app.domain.protection_domains.models import ProtectedVm, ProtectionDomain
from app.domain.recovery import repository
from app.domain.recovery.records import recovered_vms
from app.domain.replication.generator import DiskState, digest
from app.domain.replication.run import generators
from app.domain.replication.schemas import DigestRead, DiskDigest
from app.domain.replication.segments import rebuild
from app.domain.storage_format.epochs import BASE_EPOCH, epoch_at, epoch_start
from app.domain.storage_sites.models import StorageSite
from app.domain.storage_sites.service import store_of


async def _protected(session: AsyncSession, vm_id: str) -> ProtectedVm:
    vm = await repository.protected_vm(session, vm_id)
    if vm is None:
        raise NotFound(f"VM {vm_id} is not in a protection domain")
    return vm


def _read(vm_id: str, at: dt.datetime, disks: dict[int, DiskState], source: str) -> DigestRead:
    return DigestRead(
        vm_id=vm_id,
        at=at,
        source=source,
        digest=digest(disks),
        disks=[DiskDigest(key=key, digest=digest({key: disks[key]})) for key in sorted(disks)],
    )


async def _recovered_image(session: AsyncSession, vm_id: str) -> dict[int, DiskState] | None:
    """The disks a recovery gave a VM it created and nothing writes to (a test VM)."""
    for operation in await repository.recent_operations(session, 100):
        for entry in recovered_vms(operation):
            if entry.get("vm_id") == vm_id and "image" in entry:
                return {
                    int(key): {
                        region: (BASE_EPOCH, content) for region, content in enumerate(image)
                    }
                    for key, image in entry["image"].items()
                }
    return None


async def source_digest(
    session: AsyncSession, platform: Platform, vm_id: str, at: dt.datetime | None
) -> DigestRead:
    if await repository.protected_vm(session, vm_id) is None:
        image = await _recovered_image(session, vm_id)
        if image is not None:
            return _read(vm_id, at or platform.clock.now(), image, "recovery")
    vm = await _protected(session, vm_id)
    now = platform.clock.now()
    moment = at or now
    if moment > now:
        raise ValidationFailed("`at` is in the future of the virtual clock")
    if vm.origin_epoch is None:
        raise InvalidState(
            f"VM {vm.name} has not started protection: its writes are not generated yet",
            entity="protected_vm",
            state=vm.status,
        )
    until = max(epoch_at(moment.timestamp()), vm.origin_epoch)
    if vm.stopped_epoch is not None:
        until = max(min(until, vm.stopped_epoch), vm.origin_epoch)
    disks = {disk.key: disk.state(vm.origin_epoch, until) for disk in generators(vm)}
    return _read(vm_id, moment, disks, "generator")


async def replica_digest(
    session: AsyncSession, platform: Platform, vm_id: str, recovery_point_id: str | None
) -> DigestRead:
    vm = await _protected(session, vm_id)
    point = await repository.point_of_vm(session, vm.domain_id, recovery_point_id)
    if point is None:
        raise NotFound("no such recovery point" if recovery_point_id else "no recovery point yet")
    if vm.replica_key not in point.vm_ids:
        raise InvalidState(
            f"VM {vm.name} was not protected yet at recovery point {point.id}",
            entity="protected_vm",
            state=vm.status,
        )
    domain = await session.get(ProtectionDomain, vm.domain_id)
    assert domain is not None
    site = await session.get(StorageSite, domain.storage_site_id)
    if site is None:
        raise NotFound("the domain's storage site is gone")
    try:
        replica = await rebuild(
            store_of(platform.secrets, site),
            domain.container,
            point.generation,
            point.epoch,
            {vm.replica_key},
        )
    except ObjectStoreError as error:
        raise ServiceUnavailable(f"cannot read the object store: {error.message}") from error
    disks = replica.get(vm.replica_key, {})
    return _read(
        vm_id, dt.datetime.fromtimestamp(epoch_start(point.epoch), dt.UTC), disks, "object_store"
    )
