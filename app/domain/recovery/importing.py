"""Importing a domain another site owns: its VMs and recovery points, read from the container
(and read again before each recovery, since VMs come and go at the owning site)."""

from __future__ import annotations

from typing import Any

from app.adapters.objectstore.errors import ObjectStoreError
from app.adapters.objectstore.port import ObjectStore
from app.core.ids import new_id
from app.domain.events import service as events
from app.domain.protection_domains.models import ProtectedVm, ProtectionDomain
from app.domain.protection_domains.points import sync_points
from app.domain.protection_domains.replication_states import VmStatus
from app.domain.protection_domains.tasks import domain_and_store
from app.domain.recovery import repository
from app.domain.storage_format.records import VmConfig, read_vm_configs
from app.tasks.registry import TaskContext, TaskFailed


def vm_row_from_config(domain_id: str, key: str, config: VmConfig, now: Any) -> ProtectedVm:
    disks = [
        {
            "key": int(disk["key"]),
            "capacity_bytes": int(disk["capacity_bytes"]),
            "write_profile": dict(disk.get("write_profile") or {}),
        }
        for disk in config.get("disks", [])
    ]
    return ProtectedVm(
        id=new_id("pvm"),
        domain_id=domain_id,
        vm_id=None,
        replica_key=key,
        name=str(config.get("name", key)),
        protection_mode=str(config.get("protection_mode", "write_through")),
        status=VmStatus.RECOVERABLE.value,
        disks=disks,
        sync_total_bytes=0,
        sync_remaining_bytes=0,
        added_at=now,
    )


async def refresh_vms(ctx: TaskContext, domain: ProtectionDomain, store: ObjectStore) -> None:
    """The domain's VMs as the container lists them: VMs added at the other site appear here;
    the ones removed there (and not running here) go."""
    try:
        configs = await read_vm_configs(store, domain.container)
    except ObjectStoreError as error:
        raise TaskFailed(error.error_code, error.message) from error
    async with ctx.sessionmaker() as session:
        rows = await repository.vms_by_replica_key(session, domain.id)
        for key, config in configs.items():
            if key not in rows:
                session.add(vm_row_from_config(domain.id, key, config, ctx.clock.now()))
        for key, row in rows.items():
            if key not in configs and row.vm_id is None:
                await session.delete(row)
        await session.commit()


async def import_vms(ctx: TaskContext) -> None:
    domain, store = await domain_and_store(ctx)
    await refresh_vms(ctx, domain, store)
    async with ctx.sessionmaker() as session:
        row = await session.get(ProtectionDomain, domain.id)
        assert row is not None
        try:
            ctx.result["recovery_points"] = await sync_points(session, row, store)
        except ObjectStoreError as error:
            raise TaskFailed(error.error_code, error.message) from error
        await session.commit()


async def finish_import(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        domain = await session.get(ProtectionDomain, ctx.entity_id)
        if domain is None:
            raise TaskFailed("not_found", "the domain no longer exists")
        domain.status = "ready"
        domain.active_task_id = None
        count = len(await repository.domain_vms(session, domain.id))
        ctx.result["vms"] = count
        events.record(
            session,
            at=ctx.clock.now(),
            actor=ctx.actor,
            action="protection_domain.imported",
            message=f"protection domain {domain.name} imported from container "
            f"{domain.container} ({count} VMs, owned by site "
            f"{domain.site_names.get(domain.owner_site, domain.owner_site)})",
            entity=("protection_domain", domain.id, domain.name),
            task_id=ctx.task_id,
        )
        await session.commit()


async def forget_import(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        domain = await session.get(ProtectionDomain, ctx.entity_id)
        if domain is not None and domain.status == "importing":
            await session.delete(domain)
            await session.commit()
