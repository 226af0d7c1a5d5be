"""Rehydration, the middle of every recovery: the RocVA and a rehydration VM per VM
(`create_helpers`), the recovery point pinned, and every disk rebuilt from the container
(`rehydrate`); continuous rehydration keeps following new points."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import cast

from app.adapters.objectstore.errors import ObjectStoreError
from app.adapters.objectstore.port import ObjectStore
from app.adapters.vcenter.errors import VCenterConflict, VCenterError
from app.adapters.vcenter.port import VmSpec
from app.domain.inventory.service import sync_inventory
from app.domain.protection_domains.models import (
    recovery_point_id,
)
from app.domain.protection_domains.tasks import domain_and_store
from app.domain.recovery import repository
from app.domain.recovery.flow import (
    by_name,
    destroy_vms,
    is_paused,
    is_test,
    load_operation,
    manifest_of,
    placement_of,
    rehydration_vm_name,
    rocva_name,
    save_operation,
)
from app.domain.recovery.importing import refresh_vms
from app.domain.recovery.models import RecoveryOperation
from app.domain.recovery.records import HelperVm, RecoveredVm, helper_vms, recovered_vms
from app.domain.replication.generator import image_of
from app.domain.replication.segments import RecoveryPointGone, rebuild
from app.domain.storage_format.epochs import epoch_start
from app.domain.storage_format.keys import recovery_point_epochs
from app.domain.storage_format.records import RecoveryPointRecord, read_recovery_point
from app.domain.vcenters.tasks import connected
from app.tasks.registry import TaskContext, TaskFailed

# Completing a continuous failover or failback rehydrates only what changed since.
HELPER_CPU, HELPER_MEMORY_MB = 4, 8192
INCREMENTAL_REHYDRATION_SECONDS = 30.0


REPIN_ATTEMPTS = 3


async def create_helpers(ctx: TaskContext) -> None:
    if await is_paused(ctx):
        return
    op = await load_operation(ctx)
    domain, _store = await domain_and_store(ctx)
    placement = await placement_of(ctx)
    async with ctx.sessionmaker() as session:
        names = [rocva_name(domain, is_test(op))]
        if not is_test(op):
            names += [
                rehydration_vm_name(row.name)
                for row in await repository.domain_vms(session, domain.id)
            ]
    helpers: list[HelperVm] = []
    try:
        async with connected(ctx, placement.vcenter_id) as vc:
            existing = by_name((await vc.inventory()).vms)
            for index, name in enumerate(names):
                vm = existing.get(name)
                if vm is None:
                    vm = await vc.create_vm(
                        VmSpec(
                            name=name,
                            cluster_moref=placement.cluster,
                            datastore_moref=placement.datastore,
                            network_moref=placement.network,
                            cpu=HELPER_CPU if index == 0 else 2,
                            memory_mb=HELPER_MEMORY_MB if index == 0 else 2048,
                            disks_gb=(16,),
                        )
                    )
                if vm.power_state != "poweredOn":
                    with contextlib.suppress(VCenterConflict):
                        await vc.power_on_vm(vm.moref)
                helpers.append({"name": name, "moref": vm.moref})
                await save_operation(ctx, helper_vms=helpers)
                await ctx.report_progress((index + 1) / len(names))
            await sync_inventory(ctx.platform, placement.vcenter_id, await vc.inventory())
    except VCenterError as error:
        raise TaskFailed(error.error_code, f"cannot create the recovery VMs: {error}") from error
    ctx.result["rocva"] = names[0]


async def remove_helpers(ctx: TaskContext) -> None:
    if await is_paused(ctx):
        return
    op = await load_operation(ctx)
    await destroy_vms(ctx, [helper["moref"] for helper in helper_vms(op)])
    await save_operation(ctx, helper_vms=[])


def _point_is_chosen(ctx: TaskContext, op: RecoveryOperation) -> bool:
    """Whether the recovery must use one point: the one named, or the final point a handover
    shipped. Otherwise it takes the latest consistent one, whichever that is when it reads."""
    return bool(ctx.params.get("recovery_point_id")) or op.handover_task_id is not None


async def _pin(
    ctx: TaskContext,
    op: RecoveryOperation,
    store: ObjectStore,
    container: str,
    latest: bool = False,
) -> tuple[int, int, RecoveryPointRecord]:
    """(generation, epoch, point) of the recovery point this recovery uses."""
    manifest = await manifest_of(store, container)
    generation = op.generation or manifest.epoch
    # The point a handover ended with, or one pinned by an earlier run of this step; a
    # continuous recovery being completed takes the latest instead.
    pinned = not latest and (op.handover_task_id is not None or op.rehydrated_epoch is None)
    if op.recovery_point_epoch is not None and pinned:
        point = await read_recovery_point(store, container, generation, op.recovery_point_epoch)
        if point is None:
            raise TaskFailed(
                "recovery_point_gone",
                f"recovery point {op.recovery_point_id} is no longer in the container",
            )
        return generation, op.recovery_point_epoch, point
    epochs = await recovery_point_epochs(store, container, generation)
    wanted = ctx.params.get("recovery_point_id")
    if wanted:
        chosen = [e for e in epochs if recovery_point_id(op.domain_id, generation, e) == wanted]
        if not chosen:
            raise TaskFailed(
                "recovery_point_gone", f"recovery point {wanted} is no longer in the container"
            )
        epochs = chosen
    for epoch in reversed(epochs):
        point = await read_recovery_point(store, container, generation, epoch)
        if point is None:
            continue
        if point.get("consistent") or op.type == "forced" or wanted:
            return generation, epoch, point
    raise TaskFailed(
        "no_recovery_point",
        "the container holds no consistent recovery point"
        + ("" if op.type == "forced" else " (a forced failover takes an inconsistent one)"),
    )


async def rehydrate(ctx: TaskContext) -> None:
    """Pin the recovery point and rebuild every disk from the container (what the RocVA does),
    at the rehydration bandwidth."""
    if await is_paused(ctx):
        return
    op = await load_operation(ctx)
    domain, store = await domain_and_store(ctx)
    await refresh_vms(ctx, domain, store)
    try:
        async with ctx.sessionmaker() as session:
            rows = await repository.vms_by_name(session, domain.id)
        for attempt in range(REPIN_ATTEMPTS):
            generation, epoch, point = await _pin(
                ctx, op, store, domain.container, latest=attempt > 0
            )
            held = set(point.get("vm_ids") or [])
            try:
                replica = await rebuild(store, domain.container, generation, epoch, held)
                break
            except RecoveryPointGone:
                # The owner, still running, compacted past the point between our listing and
                # our read: a newer consistent point exists, and any will do here.
                if _point_is_chosen(ctx, op) or attempt == REPIN_ATTEMPTS - 1:
                    raise
    except ObjectStoreError as error:
        raise TaskFailed(error.error_code, f"cannot read the container: {error.message}") from error
    vms: list[RecoveredVm] = []
    total_bytes = 0
    for row in rows:
        entry: RecoveredVm = {
            "key": row.replica_key,
            "name": row.name,
            "outcome": "pending",
            "error": None,
        }
        if row.replica_key not in held or row.replica_key not in replica:
            entry["outcome"], entry["error"] = "skipped", "not in the recovery point"
        else:
            disks = replica[row.replica_key]
            entry["image"] = {
                str(disk["key"]): list(image_of(disks.get(int(disk["key"]), {})))
                for disk in row.disks
            }
            total_bytes += sum(int(disk["capacity_bytes"]) for disk in row.disks)
        vms.append(entry)
    previous = {vm["key"]: vm for vm in recovered_vms(op)}
    for index, entry in enumerate(vms):
        # A resumed recovery keeps what it already created.
        earlier = previous.get(entry["key"])
        if earlier and earlier.get("moref"):
            kept = {k: v for k, v in earlier.items() if k != "image"}
            vms[index] = cast(RecoveredVm, {**entry, **kept})
    bandwidth = ctx.platform.settings.replication.rehydration_mbps * 1_000_000 / 8
    seconds = (
        INCREMENTAL_REHYDRATION_SECONDS
        if op.rehydrated_epoch is not None
        else total_bytes / bandwidth
    )
    await ctx.clock.sleep(seconds)
    at = epoch_start(epoch)
    await save_operation(
        ctx,
        generation=generation,
        recovery_point_epoch=epoch,
        recovery_point_id=recovery_point_id(domain.id, generation, epoch),
        recovery_point_at=dt.datetime.fromtimestamp(at, dt.UTC),
        rehydrated_epoch=epoch,
        vms=vms,
    )
    ctx.result["recovery_point_id"] = recovery_point_id(domain.id, generation, epoch)
    ctx.result["rehydration_seconds"] = round(seconds, 3)
