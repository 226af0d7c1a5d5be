"""Recoveries as task steps: failover (regular, planned, forced, continuous), test failover and
failback; the task definitions, with import (`importing`) and the owner's handover (`handover`).

Every step is idempotent, so a recovery appliance killed mid-way resumes the step it was in:
VMs are found by name before one is created, what a step decided is committed in the operation
row, and ownership moves last, in one manifest write, once the recovered VMs run.

A recovery of a domain at this site goes: `hand_over` (planned failover and failback: the
owner shuts its VMs down and ships what its log holds) → `create_helpers` (the RocVA and a
rehydration VM per VM) → `rehydrate` (pin the recovery point, rebuild every disk from the
container) → `recover_vms` (the runbook's order, delays, sizes, networks and addresses) →
`remove_helpers` → `take_over` (the manifest names this site at a new epoch, the former owner is
fenced, protection resumes into the same container).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update

from app.adapters.objectstore.errors import ObjectNotFound, ObjectStoreError
from app.adapters.objectstore.port import ObjectStore
from app.adapters.peer.port import PeerError
from app.adapters.vcenter.errors import VCenterConflict, VCenterError, VCenterNotFound
from app.adapters.vcenter.port import VmInfo, VmSpec
from app.domain.events import service as events
from app.domain.inventory.models import Cluster, Datastore, Network, VirtualMachine
from app.domain.inventory.service import sync_inventory
from app.domain.protection_domains.models import (
    ProtectedVm,
    ProtectionDomain,
    recovery_point_id,
)
from app.domain.protection_domains.modes import DomainMode, IllegalModeMove, move_mode
from app.domain.protection_domains.replication_states import VmStatus
from app.domain.protection_domains.tasks import domain_and_store, release_domain
from app.domain.recovery.handover import drain_log, shut_down_vms, stop_for_handover
from app.domain.recovery.importing import finish_import, forget_import, import_vms, refresh_vms
from app.domain.recovery.models import RecoveryOperation, Runbook
from app.domain.recovery_settings.models import RecoverySettings
from app.domain.replication.engine import ReplicationEngine
from app.domain.replication.generator import image_of
from app.domain.replication.segments import RecoveryPointGone, rebuild
from app.domain.sites.identity import site_directory
from app.domain.sites.models import Site
from app.domain.sites.service import endpoint_of
from app.domain.storage_format.epochs import epoch_start
from app.domain.storage_format.keys import recovery_point_epochs, recovery_point_key, vm_config_key
from app.domain.storage_format.manifest import (
    CorruptManifest,
    Manifest,
    read_manifest,
    write_manifest,
)
from app.domain.vcenters.tasks import connected
from app.tasks.registry import Step, TaskContext, TaskDefinition, TaskFailed

GIB = 1024**3
HANDOVER_POLL_SECONDS = 15.0
# How long a planned failover waits for the owner to ship its log before giving up.
PLANNED_WAIT_SECONDS = 3600.0
# Completing a continuous failover or failback rehydrates only what changed since.
INCREMENTAL_REHYDRATION_SECONDS = 30.0
REPIN_ATTEMPTS = 3
HELPER_CPU, HELPER_MEMORY_MB = 4, 8192
RUNNING = "running"
PAUSED = "paused"


def rocva_name(domain: ProtectionDomain, test: bool = False) -> str:
    """A test failover has its own RocVA: a continuous failover's may be running beside it."""
    return f"jss-rocva-{domain.name}{'-test' if test else ''}"


def rehydration_vm_name(vm_name: str) -> str:
    return f"jss-rehydrate-{vm_name}"


def test_vm_name(vm_name: str) -> str:
    return f"jss-tvm-{vm_name}"


# -- loading -------------------------------------------------------------------------------


async def _operation(ctx: TaskContext) -> RecoveryOperation:
    async with ctx.sessionmaker() as session:
        op = await session.get(RecoveryOperation, ctx.params["operation_id"])
    if op is None:
        raise TaskFailed("not_found", "the recovery operation record is gone")
    return op


async def _save(ctx: TaskContext, **changes: Any) -> None:
    async with ctx.sessionmaker() as session:
        await session.execute(
            update(RecoveryOperation)
            .where(RecoveryOperation.id == ctx.params["operation_id"])
            .values(**changes)
        )
        await session.commit()


async def manifest_of(store: ObjectStore, container: str) -> Manifest:
    try:
        return await read_manifest(store, container)
    except ObjectNotFound as error:
        raise TaskFailed("not_found", f"container {container} holds no manifest") from error
    except ObjectStoreError as error:
        raise TaskFailed(error.error_code, error.message) from error
    except CorruptManifest as error:
        raise TaskFailed("corrupt_manifest", str(error)) from error


class Placement:
    """Where a recovery puts its VMs at this site (the recovery settings, as morefs)."""

    def __init__(
        self,
        vcenter_id: str,
        cluster: str,
        datastore: str,
        network: str,
        test_network: str | None,
        networks: dict[str, str],
    ) -> None:
        self.vcenter_id = vcenter_id
        self.cluster = cluster
        self.datastore = datastore
        self.network = network
        self.test_network = test_network
        # network id -> moref, for runbook network mappings
        self.networks = networks


async def _placement(ctx: TaskContext) -> Placement:
    async with ctx.sessionmaker() as session:
        settings = await session.scalar(select(RecoverySettings))
        if settings is None:
            raise TaskFailed(
                "recovery_settings_missing", "set the recovery settings (RocVA placement) first"
            )
        cluster = await session.get(Cluster, settings.cluster_id)
        datastore = await session.get(Datastore, settings.datastore_id)
        network = await session.get(Network, settings.network_id)
        test = (
            await session.get(Network, settings.test_network_id)
            if settings.test_network_id
            else None
        )
        if cluster is None or datastore is None or network is None:
            raise TaskFailed(
                "recovery_settings_stale",
                "the recovery settings name a cluster, datastore or network that is gone",
            )
        networks = {
            n.id: n.moref
            for n in await session.scalars(
                select(Network).where(Network.vcenter_id == cluster.vcenter_id)
            )
        }
    return Placement(
        cluster.vcenter_id,
        cluster.moref,
        datastore.moref,
        network.moref,
        test.moref if test else None,
        networks,
    )


async def _runbook(ctx: TaskContext, domain_id: str) -> dict[str, dict[str, Any]]:
    """Runbook entries by VM (replica key or name)."""
    async with ctx.sessionmaker() as session:
        runbook = await session.get(Runbook, domain_id)
    entries = (runbook.spec if runbook else {}).get("vms", [])
    return {str(entry["vm"]): entry for entry in entries}


def _entry_for(runbook: dict[str, dict[str, Any]], vm: dict[str, Any]) -> dict[str, Any]:
    return runbook.get(vm["key"]) or runbook.get(vm["name"]) or {}


def _is_test(op: RecoveryOperation) -> bool:
    return op.kind == "test_failover"


async def _set_mode(ctx: TaskContext, target: DomainMode) -> None:
    async with ctx.sessionmaker() as session:
        domain = await session.get(ProtectionDomain, ctx.entity_id)
        if domain is None:
            raise TaskFailed("not_found", "the domain no longer exists")
        try:
            domain.mode = move_mode(domain.mode, target)
        except IllegalModeMove as error:
            raise TaskFailed("invalid_state", str(error)) from error
        domain.updated_at = ctx.clock.now()
        await session.commit()


# -- handover (at the recovering site) ---------------------------------------------------


async def hand_over(ctx: TaskContext) -> None:
    """Planned failover and failback: the owner shuts the VMs down and ships its log; the
    recovery uses the final point it reports. A failback that waits longer than its maximum
    delay pauses (`resume-failback` waits again)."""
    op = await _operation(ctx)
    if op.kind == "test_failover" or (op.kind == "failover" and op.type != "planned"):
        return
    if op.recovery_point_epoch is not None and op.handover_task_id is not None:
        return
    async with ctx.sessionmaker() as session:
        peer = await session.scalar(
            select(Site).where(Site.peer_site_id == op.source_site, Site.role == "remote")
        )
        if peer is None:
            raise TaskFailed(
                "peer_missing",
                f"site {op.source_site} owns the domain but is not registered as a peer site",
            )
        endpoint = endpoint_of(ctx.platform, peer)
    limit = (
        float(ctx.params.get("max_delay_minutes", 10)) * 60.0
        if op.kind == "failback"
        else PLANNED_WAIT_SECONDS
    )
    try:
        remote_id = op.handover_task_id or await ctx.platform.peers.release_domain(
            endpoint, op.domain_id, op.target_site
        )
        if op.handover_task_id is None:
            await _save(ctx, handover_task_id=remote_id)
        waited = 0.0
        unreachable: PeerError | None = None
        while True:
            try:
                remote = await ctx.platform.peers.task(endpoint, remote_id)
                unreachable = None
            except PeerError as error:
                # The owner accepted the handover and may be restarting: its task resumes
                # there, so this keeps asking until the wait runs out.
                unreachable = error
            if unreachable is None and remote.status == "succeeded":
                break
            if unreachable is None and remote.status in ("failed", "cancelled"):
                await _save(ctx, handover_task_id=None)
                raise TaskFailed(
                    "handover_failed",
                    f"site {op.source_site} could not hand the domain over: "
                    f"{remote.error_message or remote.status}",
                )
            if waited >= limit:
                if op.kind == "failback":
                    await _pause(
                        ctx,
                        f"site {op.source_site} "
                        + (
                            f"cannot be reached: {unreachable.message}"
                            if unreachable
                            else f"has not drained its log in {limit:.0f} s"
                        ),
                    )
                    return
                if unreachable is not None:
                    raise unreachable
                raise TaskFailed(
                    "handover_timeout",
                    f"site {op.source_site} did not hand the domain over in {limit:.0f} s",
                )
            await ctx.clock.sleep(HANDOVER_POLL_SECONDS)
            waited += HANDOVER_POLL_SECONDS
            await ctx.report_progress(min(0.95, waited / limit))
    except PeerError as error:
        raise TaskFailed(
            error.error_code, f"site {op.source_site} cannot be reached: {error.message}"
        ) from error
    final = remote.result
    await _save(
        ctx,
        generation=int(final["generation"]),
        recovery_point_epoch=int(final["epoch"]),
        recovery_point_id=str(final["recovery_point_id"]),
    )
    ctx.result["handover"] = final


async def _pause(ctx: TaskContext, reason: str) -> None:
    await _save(ctx, status=PAUSED, error=reason)
    await _set_mode(ctx, DomainMode.FAILBACK_PAUSED)
    ctx.result["paused"] = True
    ctx.result["reason"] = reason


async def _paused(ctx: TaskContext) -> bool:
    return (await _operation(ctx)).status == PAUSED


# -- helpers (RocVA, rehydration VMs) ----------------------------------------------------


def _by_name(vms: Iterable[VmInfo]) -> dict[str, VmInfo]:
    return {vm.name: vm for vm in vms}


async def create_helpers(ctx: TaskContext) -> None:
    if await _paused(ctx):
        return
    op = await _operation(ctx)
    domain, _store = await domain_and_store(ctx)
    placement = await _placement(ctx)
    async with ctx.sessionmaker() as session:
        names = [rocva_name(domain, _is_test(op))]
        if not _is_test(op):
            names += [
                rehydration_vm_name(row.name)
                for row in await session.scalars(
                    select(ProtectedVm).where(ProtectedVm.domain_id == domain.id)
                )
            ]
    helpers: list[dict[str, Any]] = []
    try:
        async with connected(ctx, placement.vcenter_id) as vc:
            existing = _by_name((await vc.inventory()).vms)
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
                await _save(ctx, helper_vms=helpers)
                await ctx.report_progress((index + 1) / len(names))
            await sync_inventory(ctx.platform, placement.vcenter_id, await vc.inventory())
    except VCenterError as error:
        raise TaskFailed(error.error_code, f"cannot create the recovery VMs: {error}") from error
    ctx.result["rocva"] = names[0]


async def remove_helpers(ctx: TaskContext) -> None:
    if await _paused(ctx):
        return
    op = await _operation(ctx)
    await _destroy(ctx, [helper["moref"] for helper in op.helper_vms])
    await _save(ctx, helper_vms=[])


async def _destroy(ctx: TaskContext, morefs: list[str]) -> None:
    if not morefs:
        return
    placement = await _placement(ctx)
    async with connected(ctx, placement.vcenter_id) as vc:
        for moref in morefs:
            with contextlib.suppress(VCenterNotFound):
                await vc.destroy_vm(moref)
        await sync_inventory(ctx.platform, placement.vcenter_id, await vc.inventory())


# -- rehydration ---------------------------------------------------------------------------


async def _point(
    store: ObjectStore, container: str, generation: int, epoch: int
) -> dict[str, Any] | None:
    try:
        body = json.loads(await store.get(container, recovery_point_key(generation, epoch)))
    except (ObjectNotFound, ValueError):
        return None
    return body if isinstance(body, dict) else None


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
) -> tuple[int, int, dict[str, Any]]:
    """(generation, epoch, point) of the recovery point this recovery uses."""
    manifest = await manifest_of(store, container)
    generation = op.generation or manifest.epoch
    # The point a handover ended with, or one pinned by an earlier run of this step; a
    # continuous recovery being completed takes the latest instead.
    pinned = not latest and (op.handover_task_id is not None or op.rehydrated_epoch is None)
    if op.recovery_point_epoch is not None and pinned:
        point = await _point(store, container, generation, op.recovery_point_epoch)
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
        point = await _point(store, container, generation, epoch)
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
    if await _paused(ctx):
        return
    op = await _operation(ctx)
    domain, store = await domain_and_store(ctx)
    await refresh_vms(ctx, domain, store)
    try:
        async with ctx.sessionmaker() as session:
            rows = list(
                await session.scalars(
                    select(ProtectedVm)
                    .where(ProtectedVm.domain_id == domain.id)
                    .order_by(ProtectedVm.name)
                )
            )
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
    vms: list[dict[str, Any]] = []
    total_bytes = 0
    for row in rows:
        entry: dict[str, Any] = {
            "key": row.replica_key,
            "name": row.name,
            "outcome": "pending",
            "error": None,
        }
        if row.replica_key not in held or row.replica_key not in replica:
            entry.update(outcome="skipped", error="not in the recovery point")
        else:
            disks = replica[row.replica_key]
            entry["image"] = {
                str(disk["key"]): list(image_of(disks.get(int(disk["key"]), {})))
                for disk in row.disks
            }
            total_bytes += sum(int(disk["capacity_bytes"]) for disk in row.disks)
        vms.append(entry)
    previous = {vm["key"]: vm for vm in op.vms}
    for entry in vms:
        # A resumed recovery keeps what it already created.
        earlier = previous.get(entry["key"])
        if earlier and earlier.get("moref"):
            entry.update({k: v for k, v in earlier.items() if k not in ("image",)})
    bandwidth = ctx.platform.settings.replication.rehydration_mbps * 1_000_000 / 8
    seconds = (
        INCREMENTAL_REHYDRATION_SECONDS
        if op.rehydrated_epoch is not None
        else total_bytes / bandwidth
    )
    await ctx.clock.sleep(seconds)
    at = epoch_start(epoch)
    await _save(
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


# -- recovered VMs ---------------------------------------------------------------------------


async def _detach_local(ctx: TaskContext, vcenter_id: str, moref: str) -> None:
    """A VM about to be destroyed must not take its domain row with it (the row's VM id
    cascades): the row forgets the VM first."""
    async with ctx.sessionmaker() as session:
        vm_id = await session.scalar(
            select(VirtualMachine.id).where(
                VirtualMachine.vcenter_id == vcenter_id, VirtualMachine.moref == moref
            )
        )
        if vm_id is not None:
            await session.execute(
                update(ProtectedVm).where(ProtectedVm.vm_id == vm_id).values(vm_id=None)
            )
            await session.commit()


async def recover_vms(ctx: TaskContext) -> None:
    if await _paused(ctx):
        return
    op = await _operation(ctx)
    placement = await _placement(ctx)
    runbook = await _runbook(ctx, op.domain_id)
    async with ctx.sessionmaker() as session:
        rows = {
            row.replica_key: row
            for row in await session.scalars(
                select(ProtectedVm).where(ProtectedVm.domain_id == op.domain_id)
            )
        }
        # The domain's VMs from an earlier stay at this site: obsolete now that another site
        # owns it (what `recovery_utility_prepare_failback` cleans up).
        obsolete = set(
            await session.scalars(
                select(VirtualMachine.moref)
                .join(ProtectedVm, ProtectedVm.vm_id == VirtualMachine.id)
                .where(
                    ProtectedVm.domain_id == op.domain_id,
                    VirtualMachine.vcenter_id == placement.vcenter_id,
                )
            )
        )
    vms = [dict(vm) for vm in op.vms]
    order = sorted(
        range(len(vms)),
        key=lambda i: (int(_entry_for(runbook, vms[i]).get("boot_order", 0)), vms[i]["name"]),
    )
    test = _is_test(op)
    try:
        async with connected(ctx, placement.vcenter_id) as vc:
            existing = _by_name((await vc.inventory()).vms)
            for done, index in enumerate(order):
                vm = vms[index]
                if vm["outcome"] in ("skipped", "recovered"):
                    continue
                row = rows.get(vm["key"])
                if row is None:
                    vm.update(outcome="skipped", error="removed from the domain meanwhile")
                    continue
                entry = _entry_for(runbook, vm)
                name = test_vm_name(vm["name"]) if test else vm["name"]
                found = existing.get(name)
                if found is not None and found.moref != vm.get("moref"):
                    if found.power_state == "poweredOn" and found.moref not in obsolete:
                        raise TaskFailed(
                            "vm_running",
                            f"VM {name} still runs at this site: power it off (or remove it) "
                            f"and run the {op.kind.replace('_', ' ')} again",
                        )
                    await _detach_local(ctx, placement.vcenter_id, found.moref)
                    await vc.destroy_vm(found.moref)
                    found = None
                config = await _config(ctx, op, vm["key"])
                ip = entry.get("ip") or {}
                static = ip.get("mode") == "static" and ip.get("address")
                network = (
                    placement.networks.get(str(entry.get("network_id")))
                    if entry.get("network_id")
                    else None
                ) or ((placement.test_network or placement.network) if test else placement.network)
                cpu = int(entry.get("cpu") or config.get("cpu") or 2)
                memory = int(entry.get("memory_mb") or config.get("memory_mb") or 4096)
                if found is None:
                    found = await vc.create_vm(
                        VmSpec(
                            name=name,
                            cluster_moref=placement.cluster,
                            datastore_moref=placement.datastore,
                            network_moref=network,
                            cpu=cpu,
                            memory_mb=memory,
                            guest_os=str(config.get("guest_os") or "otherGuest64"),
                            disks_gb=tuple(
                                max(1, math.ceil(int(d["capacity_bytes"]) / GIB)) for d in row.disks
                            ),
                            disk_write_profiles=()
                            if test
                            else tuple(_profile(d.get("write_profile")) for d in row.disks),
                            extra_config=(
                                (("guestinfo.jetstream.ip", str(ip["address"])),) if static else ()
                            ),
                        )
                    )
                    vm.update(moref=found.moref, cpu=cpu, memory_mb=memory)
                    await _save(ctx, vms=vms)
                if found.power_state != "poweredOn":
                    with contextlib.suppress(VCenterConflict):
                        await vc.power_on_vm(found.moref)
                running = await vc.get_vm(found.moref)
                vm.update(
                    outcome="recovered",
                    ip=running.ip,
                    powered_on_at=ctx.clock.now().isoformat(),
                    recovered_at=ctx.clock.now().isoformat(),
                )
                await _save(ctx, vms=vms)
                await ctx.report_progress((done + 1) / len(order))
                delay = float(entry.get("delay_seconds") or 0)
                if delay:
                    await ctx.clock.sleep(delay)
            await sync_inventory(ctx.platform, placement.vcenter_id, await vc.inventory())
    except VCenterError as error:
        raise TaskFailed(error.error_code, f"cannot create the recovered VMs: {error}") from error
    async with ctx.sessionmaker() as session:
        local_ids = {
            vm.moref: vm.id
            for vm in await session.scalars(
                select(VirtualMachine).where(VirtualMachine.vcenter_id == placement.vcenter_id)
            )
        }
    for vm in vms:
        if vm.get("moref") in local_ids:
            vm["vm_id"] = local_ids[vm["moref"]]
    await _save(ctx, vms=vms)
    recovered = sum(vm["outcome"] == "recovered" for vm in vms)
    if recovered == 0:
        raise TaskFailed("nothing_recovered", "no VM of the domain is in the recovery point")
    ctx.result["recovered"] = recovered


def _profile(raw: Any) -> dict[str, float | str]:
    """A disk's write profile as vCenter records carry it (numbers as floats)."""
    return {
        str(key): float(value) if isinstance(value, int | float) else str(value)
        for key, value in dict(raw or {}).items()
    }


async def _config(ctx: TaskContext, op: RecoveryOperation, key: str) -> dict[str, Any]:
    _domain, store = await domain_and_store(ctx)
    with contextlib.suppress(ObjectStoreError, ValueError):
        body = json.loads(await store.get(_domain.container, vm_config_key(key)))
        if isinstance(body, dict):
            return body
    return {}


# -- ownership -------------------------------------------------------------------------------


async def take_over(ctx: TaskContext) -> None:
    """Move ownership to this site in the manifest at a new epoch (the former owner is fenced
    at its next look), then resume protection from here into the same container."""
    if await _paused(ctx):
        await release_domain(ctx)
        return
    op = await _operation(ctx)
    domain, store = await domain_and_store(ctx)
    local = ctx.platform.state.local_site
    manifest = await manifest_of(store, domain.container)
    async with ctx.sessionmaker() as session:
        sites = await site_directory(session, ctx.platform)
    epoch = manifest.epoch
    owner = manifest.owner(sites)
    if not (op.claimed_epoch == epoch and owner == local):
        assert op.generation is not None
        if epoch != op.generation and op.type != "forced":
            raise TaskFailed(
                "taken_over",
                f"site {sites.label(owner, manifest.labels)} took the domain over "
                f"meanwhile (epoch {epoch}); nothing was changed",
            )
        claimed = max(epoch, op.generation) + 1
        manifest.claim(local, claimed, ctx.clock.now(), op.kind == "failover", sites)
        try:
            await write_manifest(store, domain.container, manifest)
        except ObjectStoreError as error:
            raise TaskFailed(error.error_code, error.message) from error
        await _save(ctx, claimed_epoch=claimed)
        op.claimed_epoch = claimed
    assert op.claimed_epoch is not None
    placement = await _placement(ctx)
    async with ctx.sessionmaker() as session:
        local_ids = {
            vm.moref: vm.id
            for vm in await session.scalars(
                select(VirtualMachine).where(VirtualMachine.vcenter_id == placement.vcenter_id)
            )
        }
    recovered: dict[str, tuple[str, dict[str, Any]]] = {}
    vms = [dict(vm) for vm in op.vms]
    for vm in vms:
        if vm["outcome"] == "recovered" and vm.get("moref") in local_ids:
            vm["vm_id"] = local_ids[vm["moref"]]
            recovered[vm["key"]] = (vm["vm_id"], vm["image"])
    failback = op.kind == "failback"
    engine = ctx.platform.worker(ReplicationEngine)
    try:
        async with engine.lock:
            origin = await engine.adopt(
                domain.id,
                op.claimed_epoch,
                recovered,
                VmStatus.PROTECTED if failback else VmStatus.RECOVERABLE,
            )
    except ObjectStoreError as error:
        raise TaskFailed(error.error_code, error.message) from error
    now = ctx.clock.now()
    for vm in vms:
        if vm["key"] in recovered:
            vm["recovered_at"] = dt.datetime.fromtimestamp(epoch_start(origin), dt.UTC).isoformat()
    async with ctx.sessionmaker() as session:
        row = await session.get(ProtectionDomain, domain.id)
        assert row is not None
        row.owner_site = local
        if not failback:
            row.recovery_site = local
        row.mode = move_mode(
            row.mode, DomainMode.PROTECTING if failback else DomainMode.RUNNING_IN_FAILOVER
        )
        row.replication_enabled = True
        row.status = "ready"
        row.active_task_id = None
        row.updated_at = now
        operation = await session.get(RecoveryOperation, op.id)
        assert operation is not None
        for vm in vms:
            vm.pop("image", None) if vm["outcome"] != "recovered" else None
        operation.vms = vms
        operation.status = "succeeded"
        operation.success = True
        operation.finished_at = now
        operation.summary = (
            f"{len(recovered)} of {len(vms)} VMs recovered at site {local} from recovery point "
            f"{op.recovery_point_id}"
        )
        events.record(
            session,
            at=now,
            actor=ctx.actor,
            action=f"protection_domain.{op.kind}_completed",
            message=f"protection domain {row.name}: {op.kind.replace('_', ' ')} to site {local} "
            f"completed; {operation.summary}; protection resumed from here",
            entity=("protection_domain", row.id, row.name),
            task_id=ctx.task_id,
        )
        await session.commit()
    ctx.result["recovered"] = len(recovered)
    ctx.result["owner_epoch"] = op.claimed_epoch


async def enter_continuous(ctx: TaskContext) -> None:
    """A continuous failover or failback keeps its RocVA and rehydration VMs and waits for
    `complete-failover` / `complete-failback`."""
    op = await _operation(ctx)
    await _set_mode(
        ctx,
        DomainMode.CONTINUOUS_FAILBACK if op.kind == "failback" else DomainMode.CONTINUOUS_FAILOVER,
    )
    await _save(ctx, status="rehydrating")
    await release_domain(ctx)


async def enter_test(ctx: TaskContext) -> None:
    await _set_mode(ctx, DomainMode.TEST_FAILOVER)
    await _save(ctx, status=RUNNING)
    await release_domain(ctx)


async def remove_test_vms(ctx: TaskContext) -> None:
    op = await _operation(ctx)
    await _destroy(ctx, [vm["moref"] for vm in op.vms if vm.get("moref")])


async def end_test(ctx: TaskContext) -> None:
    op = await _operation(ctx)
    now = ctx.clock.now()
    await _set_mode(ctx, DomainMode(op.previous_mode))
    success = bool(ctx.params.get("success"))
    await _save(
        ctx,
        status="succeeded" if success else "failed",
        success=success,
        summary=str(ctx.params.get("summary") or "")[:4096] or None,
        finished_at=now,
        vms=[{**vm, "outcome": "removed" if vm.get("moref") else vm["outcome"]} for vm in op.vms],
    )
    await release_domain(ctx)


async def undo_recovery(ctx: TaskContext) -> None:
    """A failed or cancelled recovery removes what it created, unless it already took the
    domain over (then the recovered VMs are the domain's)."""
    code, message = ctx.failure or ("failed", "the recovery failed")
    op = await _operation(ctx)
    if op.claimed_epoch is None:
        morefs = [helper["moref"] for helper in op.helper_vms]
        keep_helpers = op.status == "rehydrating"
        if keep_helpers:
            morefs = []
        morefs += [vm["moref"] for vm in op.vms if vm.get("moref")]
        with contextlib.suppress(TaskFailed, VCenterError):
            await _destroy(ctx, morefs)
    now = ctx.clock.now()
    async with ctx.sessionmaker() as session:
        operation = await session.get(RecoveryOperation, op.id)
        domain = await session.get(ProtectionDomain, ctx.entity_id)
        if operation is not None:
            operation.status = "failed"
            operation.success = False
            operation.error = f"{code}: {message}"[:1024]
            operation.finished_at = now
        if domain is not None:
            if op.claimed_epoch is None:
                with contextlib.suppress(IllegalModeMove):
                    domain.mode = move_mode(domain.mode, DomainMode(op.previous_mode))
            if domain.active_task_id == ctx.task_id:
                domain.status = "ready"
                domain.active_task_id = None
            events.record(
                session,
                at=now,
                actor=ctx.actor,
                action=f"protection_domain.{op.kind}_failed",
                message=f"protection domain {domain.name}: {op.kind.replace('_', ' ')} failed: "
                f"{message}",
                entity=("protection_domain", domain.id, domain.name),
                task_id=ctx.task_id,
            )
        await session.commit()


# -- definitions ---------------------------------------------------------------------------

IMPORT_DOMAIN = TaskDefinition(
    type="import_domain",
    steps=(Step("read_container", import_vms, weight=2), Step("finalize", finish_import)),
    compensate=forget_import,
)
FAILOVER = TaskDefinition(
    type="failover",
    steps=(
        Step("hand_over", hand_over, weight=2),
        Step("create_helpers", create_helpers, weight=2),
        Step("rehydrate", rehydrate, weight=4),
        Step("recover_vms", recover_vms, weight=3),
        Step("remove_helpers", remove_helpers),
        Step("take_over", take_over),
    ),
    compensate=undo_recovery,
)
CONTINUOUS = TaskDefinition(
    type="continuous_rehydration",
    steps=(
        Step("create_helpers", create_helpers, weight=2),
        Step("rehydrate", rehydrate, weight=4),
        Step("wait_for_completion", enter_continuous),
    ),
    compensate=undo_recovery,
)
COMPLETE = TaskDefinition(
    type="complete_recovery",
    steps=(
        Step("hand_over", hand_over, weight=2),
        Step("create_helpers", create_helpers),
        Step("rehydrate", rehydrate, weight=2),
        Step("recover_vms", recover_vms, weight=3),
        Step("remove_helpers", remove_helpers),
        Step("take_over", take_over),
    ),
    compensate=undo_recovery,
)
FAILBACK = TaskDefinition(
    type="failback",
    steps=FAILOVER.steps,
    compensate=undo_recovery,
)
TEST_FAILOVER = TaskDefinition(
    type="test_failover",
    steps=(
        Step("create_helpers", create_helpers),
        Step("rehydrate", rehydrate, weight=4),
        Step("recover_vms", recover_vms, weight=3),
        Step("remove_helpers", remove_helpers),
        Step("start_test", enter_test),
    ),
    compensate=undo_recovery,
)
STOP_TEST_FAILOVER = TaskDefinition(
    type="stop_test_failover",
    steps=(Step("remove_test_vms", remove_test_vms, weight=2), Step("end_test", end_test)),
    cancellable=False,
    compensate=release_domain,
)
RELEASE_DOMAIN = TaskDefinition(
    type="release_domain",
    steps=(
        Step("shut_down", shut_down_vms),
        Step("drain_log", drain_log, weight=4),
        Step("stop", stop_for_handover),
    ),
    compensate=release_domain,
)
DEFINITIONS = (
    IMPORT_DOMAIN,
    FAILOVER,
    CONTINUOUS,
    COMPLETE,
    FAILBACK,
    TEST_FAILOVER,
    STOP_TEST_FAILOVER,
    RELEASE_DOMAIN,
)
