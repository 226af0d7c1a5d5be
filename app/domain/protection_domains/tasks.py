"""Creating and deleting a domain's container and manifest on its storage site."""

from __future__ import annotations

import contextlib

from sqlalchemy.exc import IntegrityError

from app.adapters.objectstore.errors import ObjectNotFound, ObjectStoreError
from app.adapters.objectstore.port import ObjectStore
from app.core.ids import new_id
from app.domain.alarms.service import AlarmType, clear_alarm, raise_alarm
from app.domain.events import service as events
from app.domain.inventory import repository as inventory
from app.domain.inventory.models import VirtualMachine
from app.domain.protection_domains import repository
from app.domain.protection_domains.models import (
    ProtectedVm,
    ProtectionDomain,
)
from app.domain.protection_domains.modes import DomainMode
from app.domain.protection_domains.replication_control import REPLICATION_CONTROL
from app.domain.protection_domains.replication_states import VmStatus
from app.domain.sites.identity import SiteDirectory, site_directory
from app.domain.storage_format.keys import vm_config_key
from app.domain.storage_format.manifest import (
    Manifest,
    write_manifest,
)
from app.domain.storage_format.records import VM_CONFIG_FORMAT, VmConfig, encode_vm_config
from app.domain.storage_sites.models import StorageSite
from app.domain.storage_sites.service import store_of
from app.tasks.registry import Step, TaskContext, TaskDefinition, TaskFailed


async def domain_and_store(ctx: TaskContext) -> tuple[ProtectionDomain, ObjectStore]:
    async with ctx.sessionmaker() as session:
        domain = await session.get(ProtectionDomain, ctx.entity_id)
        if domain is None:
            raise TaskFailed("not_found", f"protection domain {ctx.entity_id} no longer exists")
        site = await session.get(StorageSite, domain.storage_site_id)
    if site is None:
        raise TaskFailed("not_found", "the domain's storage site no longer exists")
    return domain, store_of(ctx.platform.secrets, site)


def manifest(domain: ProtectionDomain, sites: SiteDirectory) -> Manifest:
    body = Manifest(
        domain_id=domain.id,
        name=domain.name,
        epoch=domain.epoch,
        rpo_target_seconds=domain.rpo_target_seconds,
        priority=domain.priority,
        pitr_enabled=domain.pitr_enabled,
        pitr_window_days=domain.pitr_window_days,
        pitr_estimated_iops=domain.pitr_estimated_iops,
        extra={"last_recovery_point_at": None},
    )
    body.stamp(
        {
            "owner_site": domain.owner_site,
            "primary_site": domain.primary_site,
            "recovery_site": domain.recovery_site,
        },
        sites,
    )
    return body


async def create_container(ctx: TaskContext) -> None:
    domain, store = await domain_and_store(ctx)
    async with ctx.sessionmaker() as session:
        sites = await site_directory(session, ctx.platform)
    try:
        await store.create_container(domain.container)
        await write_manifest(store, domain.container, manifest(domain, sites))
    except ObjectStoreError as error:
        raise TaskFailed(error.error_code, error.message) from error
    ctx.result["container"] = domain.container


async def mark_ready(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        domain = await session.get(ProtectionDomain, ctx.entity_id)
        if domain is None:
            raise TaskFailed("not_found", "the domain no longer exists")
        domain.status = "ready"
        domain.active_task_id = None
        events.record(
            session,
            at=ctx.clock.now(),
            actor=ctx.actor,
            action="protection_domain.created",
            message=f"protection domain {domain.name} created in container {domain.container}",
            entity=("protection_domain", domain.id, domain.name),
            task_id=ctx.task_id,
        )
        await session.commit()


async def remove_container(ctx: TaskContext) -> None:
    domain, store = await domain_and_store(ctx)
    if domain.owner_site != ctx.platform.state.local_site:
        # Another site owns the data: deleting the domain here only forgets it here.
        return
    with contextlib.suppress(ObjectNotFound):
        for key in await store.list(domain.container):
            await store.delete(domain.container, key)
        await store.delete_container(domain.container)


async def forget_domain(ctx: TaskContext) -> None:
    # The engine may be stepping this domain: its rows go away between two steps.
    async with ctx.platform.worker(REPLICATION_CONTROL).lock, ctx.sessionmaker() as session:
        domain = await session.get(ProtectionDomain, ctx.entity_id)
        if domain is None:
            return
        await repository.forget_domain_rows(session, domain.id)
        await session.delete(domain)
        events.record(
            session,
            at=ctx.clock.now(),
            actor=ctx.actor,
            action="protection_domain.deleted",
            message=f"protection domain {domain.name} and its container deleted",
            entity=("protection_domain", domain.id, domain.name),
            task_id=ctx.task_id,
        )
        await session.commit()


async def undo_create(ctx: TaskContext) -> None:
    with contextlib.suppress(TaskFailed, ObjectStoreError):
        await remove_container(ctx)
    await forget_domain(ctx)


async def release_domain(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        domain = await session.get(ProtectionDomain, ctx.entity_id)
        if domain is not None and domain.active_task_id == ctx.task_id:
            domain.active_task_id = None
            domain.status = "ready"
            await session.commit()


def vm_config(vm: VirtualMachine, protection_mode: str) -> VmConfig:
    """What a recovery site needs to recreate the VM, kept beside its replicated data."""
    return {
        "format": VM_CONFIG_FORMAT,
        "vm_id": vm.id,
        "moref": vm.moref,
        "name": vm.name,
        "cpu": vm.cpu,
        "memory_mb": vm.memory_mb,
        "guest_os": vm.guest_os,
        "protection_mode": protection_mode,
        "disks": [
            {
                "key": disk["key"],
                "label": disk.get("label"),
                "capacity_bytes": disk["capacity_bytes"],
                # The workload moves with the VM: a recovered VM keeps writing like this.
                "write_profile": disk.get("write_profile") or {},
            }
            for disk in vm.disks
        ],
    }


async def _vms(ctx: TaskContext) -> list[VirtualMachine]:
    async with ctx.sessionmaker() as session:
        found = await inventory.by_ids(session, VirtualMachine, ctx.params["vm_ids"])
        return list(found.values())


async def write_vm_configs(ctx: TaskContext) -> None:
    domain, store = await domain_and_store(ctx)
    mode = ctx.params["protection_mode"]
    try:
        for vm in await _vms(ctx):
            body = encode_vm_config(vm_config(vm, mode))
            await store.put(domain.container, vm_config_key(vm.id), body)
    except ObjectStoreError as error:
        raise TaskFailed(error.error_code, error.message) from error


async def attach_vms(ctx: TaskContext) -> None:
    domain, _store = await domain_and_store(ctx)
    vms = await _vms(ctx)
    if len(vms) != len(ctx.params["vm_ids"]):
        raise TaskFailed("not_found", "a VM left the inventory while it was being added")
    now = ctx.clock.now()
    rows = [
        ProtectedVm(
            id=new_id("pvm"),
            domain_id=domain.id,
            vm_id=vm.id,
            replica_key=vm.id,
            name=vm.name,
            protection_mode=ctx.params["protection_mode"],
            status=VmStatus.INITIAL_SYNC.value,
            disks=[
                {
                    "key": disk["key"],
                    "capacity_bytes": disk["capacity_bytes"],
                    "write_profile": disk.get("write_profile") or {},
                }
                for disk in vm.disks
            ],
            sync_total_bytes=sum(int(disk["capacity_bytes"]) for disk in vm.disks),
            sync_remaining_bytes=sum(int(disk["capacity_bytes"]) for disk in vm.disks),
            added_at=now,
        )
        for vm in vms
    ]
    engine = ctx.platform.worker(REPLICATION_CONTROL)
    try:
        async with engine.lock:
            await engine.attach(domain.id, rows)
    except IntegrityError as error:
        raise TaskFailed(
            "already_protected", "a VM was added to another domain meanwhile"
        ) from error
    ctx.result["vms"] = [vm.id for vm in vms]
    await _finish(
        ctx, "protection_domain.vms_added", f"VMs added: {', '.join(v.name for v in vms)}"
    )


async def detach_vm(ctx: TaskContext) -> None:
    domain, store = await domain_and_store(ctx)
    vm_id = ctx.params["vm_id"]
    engine = ctx.platform.worker(REPLICATION_CONTROL)
    async with engine.lock:
        await engine.detach(domain.id, [vm_id])
    with contextlib.suppress(ObjectStoreError):
        await store.delete(domain.container, vm_config_key(vm_id))
    await _finish(ctx, "protection_domain.vm_removed", f"VM {vm_id} removed")


async def begin_protection(ctx: TaskContext) -> None:
    await _switch_protection(ctx, enabled=True)


async def end_protection(ctx: TaskContext) -> None:
    await _switch_protection(ctx, enabled=False)


async def _switch_protection(ctx: TaskContext, *, enabled: bool) -> None:
    """ "Replication Enabled": the engine starts or stops, the domain's mode follows, and the
    `replication_disabled` alarm is raised while it is off."""
    domain, _store = await domain_and_store(ctx)
    engine = ctx.platform.worker(REPLICATION_CONTROL)
    async with engine.lock:
        await (engine.begin if enabled else engine.halt)(domain.id)
    now = ctx.clock.now()
    async with ctx.sessionmaker() as session:
        row = await session.get(ProtectionDomain, domain.id)
        if row is None:
            raise TaskFailed("not_found", "the domain no longer exists")
        local = ctx.platform.state.local_site
        running = (
            DomainMode.PROTECTING if row.primary_site == local else DomainMode.RUNNING_IN_FAILOVER
        )
        row.mode = (running if enabled else DomainMode.REPLICATION_DISABLED).value
        row.replication_enabled = enabled
        if enabled:
            await clear_alarm(
                session, alarm_type=AlarmType.REPLICATION_DISABLED, entity_id=row.id, at=now
            )
        else:
            await raise_alarm(
                session,
                alarm_type=AlarmType.REPLICATION_DISABLED,
                entity=("protection_domain", row.id, row.name),
                message=f"replication of domain {row.name} is disabled; its RPO grows",
                at=now,
            )
        await session.commit()
    action, message = (
        ("protection_started", "protection started")
        if enabled
        else (
            "protection_stopped",
            "protection stopped",
        )
    )
    await _finish(ctx, f"protection_domain.{action}", message)


async def _finish(ctx: TaskContext, action: str, message: str) -> None:
    async with ctx.sessionmaker() as session:
        domain = await session.get(ProtectionDomain, ctx.entity_id)
        if domain is None:
            return
        if domain.active_task_id == ctx.task_id:
            domain.active_task_id = None
            domain.status = "ready"
        domain.updated_at = ctx.clock.now()
        events.record(
            session,
            at=ctx.clock.now(),
            actor=ctx.actor,
            action=action,
            message=f"protection domain {domain.name}: {message}",
            entity=("protection_domain", domain.id, domain.name),
            task_id=ctx.task_id,
        )
        await session.commit()


CREATE_DOMAIN = TaskDefinition(
    type="create_domain",
    steps=(Step("create_container", create_container, weight=2), Step("finalize", mark_ready)),
    compensate=undo_create,
)
DELETE_DOMAIN = TaskDefinition(
    type="delete_domain",
    steps=(Step("remove_container", remove_container, weight=2), Step("forget", forget_domain)),
    cancellable=False,
    compensate=release_domain,
)
ADD_VMS = TaskDefinition(
    type="add_vms",
    steps=(Step("write_configs", write_vm_configs), Step("attach", attach_vms)),
    compensate=release_domain,
)
REMOVE_VM = TaskDefinition(
    type="remove_vm",
    steps=(Step("detach", detach_vm),),
    cancellable=False,
    compensate=release_domain,
)
START_PROTECTION = TaskDefinition(
    type="start_protection",
    steps=(Step("start", begin_protection),),
    cancellable=False,
    compensate=release_domain,
)
STOP_PROTECTION = TaskDefinition(
    type="stop_protection",
    steps=(Step("stop", end_protection),),
    cancellable=False,
    compensate=release_domain,
)
DEFINITIONS = (
    CREATE_DOMAIN,
    DELETE_DOMAIN,
    ADD_VMS,
    REMOVE_VM,
    START_PROTECTION,
    STOP_PROTECTION,
)
