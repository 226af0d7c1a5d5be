"""Failover (regular, planned, forced, continuous and its completion): the owner's handover
where there is one (`hand_over`), rehydration, the VMs recovered in the runbook's order
(`recover_vms`), then ownership taken in one manifest write (`take_over`); `undo_recovery`
removes what a failed recovery created."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import math
from typing import Any

from app.adapters.objectstore.errors import ObjectStoreError
from app.adapters.peer.port import PeerError
from app.adapters.vcenter.errors import VCenterConflict, VCenterError
from app.adapters.vcenter.port import VmSpec
from app.domain.events import service as events
from app.domain.inventory.service import sync_inventory
from app.domain.protection_domains.models import ProtectedVm, ProtectionDomain
from app.domain.protection_domains.modes import DomainMode, IllegalModeMove, move_mode
from app.domain.protection_domains.replication_states import VmStatus
from app.domain.protection_domains.tasks import domain_and_store, release_domain
from app.domain.recovery import repository
from app.domain.recovery.flow import (
    GIB,
    Placement,
    by_name,
    destroy_vms,
    is_paused,
    is_test,
    load_operation,
    manifest_of,
    pause_recovery,
    placement_of,
    runbook_of,
    save_operation,
    set_mode,
    test_vm_name,
)
from app.domain.recovery.models import RecoveryOperation
from app.domain.recovery.records import (
    RecoveredVm,
    RunbookPlan,
    Stage,
    StageRecord,
    all_up,
    helper_vms,
    recovered_vms,
    runbook_log,
    runbook_plan,
)
from app.domain.recovery.rehydration import create_helpers, rehydrate, remove_helpers
from app.domain.recovery.schemas import RunbookIp, RunbookVm
from app.domain.recovery.scripts import run_script
from app.domain.replication.engine import ReplicationEngine
from app.domain.sites import repository as sites
from app.domain.sites.identity import site_directory
from app.domain.sites.service import endpoint_of
from app.domain.storage_format.epochs import epoch_start
from app.domain.storage_format.manifest import (
    write_manifest,
)
from app.domain.storage_format.records import VmConfig, read_vm_config
from app.domain.vcenters.tasks import connected
from app.tasks.registry import Step, TaskContext, TaskDefinition, TaskFailed

HANDOVER_POLL_SECONDS = 15.0
RUNBOOK_POLL_SECONDS = 10.0
RUNBOOK_WAIT_LIMIT = 3600.0


# How long a planned failover waits for the owner to ship its log before giving up.
PLANNED_WAIT_SECONDS = 3600.0


async def hand_over(ctx: TaskContext) -> None:
    """Planned failover and failback: the owner shuts the VMs down and ships its log; the
    recovery uses the final point it reports. A failback that waits longer than its maximum
    delay pauses (`resume-failback` waits again)."""
    op = await load_operation(ctx)
    if op.kind in ("test_failover", "restore") or (op.kind == "failover" and op.type != "planned"):
        return
    if op.recovery_point_epoch is not None and op.handover_task_id is not None:
        return
    async with ctx.sessionmaker() as session:
        peer = await sites.peer_of(session, op.source_site)
        if peer is None:
            raise TaskFailed(
                "peer_missing",
                f"site {op.source_site} owns the domain but is not registered as a peer site",
            )
        endpoint = endpoint_of(ctx.platform.secrets, peer)
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
            await save_operation(ctx, handover_task_id=remote_id)
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
                await save_operation(ctx, handover_task_id=None)
                raise TaskFailed(
                    "handover_failed",
                    f"site {op.source_site} could not hand the domain over: "
                    f"{remote.error_message or remote.status}",
                )
            if waited >= limit:
                if op.kind == "failback":
                    await pause_recovery(
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
    await save_operation(
        ctx,
        generation=int(final["generation"]),
        recovery_point_epoch=int(final["epoch"]),
        recovery_point_id=str(final["recovery_point_id"]),
    )
    ctx.result["handover"] = final


async def _detach_local(ctx: TaskContext, vcenter_id: str, moref: str) -> None:
    """A VM about to be destroyed must not take its domain row with it (the row's VM id
    cascades): the row forgets the VM first."""
    async with ctx.sessionmaker() as session:
        if await repository.forget_local_vm(session, vcenter_id, moref):
            await session.commit()


async def recover_vms(ctx: TaskContext) -> None:
    """The VMs come up as the runbook says: the independent VMs first, then each group in its
    order, `delay_seconds` after the previous one is up, its `before` scripts run first and its
    `after` scripts once its VMs are up; within a stage, boot order with each VM's delay. A
    resumed run skips what is already up and the scripts that already ran."""
    if await is_paused(ctx):
        return
    op = await load_operation(ctx)
    placement = await placement_of(ctx)
    plan = await runbook_of(ctx, op.domain_id)
    async with ctx.sessionmaker() as session:
        rows = await repository.vms_by_replica_key(session, op.domain_id)
        # The domain's VMs from an earlier stay at this site: obsolete now that another site
        # owns it (what `recovery_utility_prepare_failback` cleans up).
        obsolete = await repository.local_morefs_of(session, op.domain_id, placement.vcenter_id)
    vms = recovered_vms(op)
    log = runbook_log(op)
    schedule = [(stage, members) for stage, members in plan.schedule(vms) if members]
    total = sum(len(members) for _, members in schedule)
    up = 0
    if not log:
        await _wait_for_earlier_runbooks(ctx, op, plan)
    try:
        async with connected(ctx, placement.vcenter_id) as vc:
            bring_up = _BringUp(ctx, op, vc, placement, rows, obsolete)
            await bring_up.look()
            for position, (stage, members) in enumerate(schedule):
                record = _stage_record(log, stage, [vms[i]["name"] for i in members])
                if record["finished"]:
                    up += len(members)
                    continue
                label = "independent VMs" if stage.group is None else f"group {stage.group}"
                if record["started_at"] is None:
                    if position > 0 and stage.delay_seconds:
                        await ctx.log(f"runbook {label}: waiting {stage.delay_seconds} s")
                        await ctx.clock.sleep(stage.delay_seconds)
                    record["started_at"] = ctx.clock.now().isoformat()
                    await ctx.log(f"runbook {label} starts: {', '.join(record['vms'])}")
                    await save_operation(ctx, runbook_log=log)
                await _run_scripts(ctx, op, stage, "before", record, log)
                for index in members:
                    vm = vms[index]
                    entry = plan.entry(vm)
                    vm["group"] = stage.group
                    if await bring_up.vm(vm, entry, vms):
                        delay = float(entry.delay_seconds)
                        if delay:
                            await ctx.clock.sleep(delay)
                    up += 1
                    await ctx.report_progress(up / total)
                if record["up_at"] is None:
                    record["up_at"] = ctx.clock.now().isoformat()
                    await ctx.log(f"runbook {label} is up")
                await _run_scripts(ctx, op, stage, "after", record, log)
                record["finished"] = True
                await save_operation(ctx, vms=vms, runbook_log=log)
            await sync_inventory(ctx.platform, placement.vcenter_id, await vc.inventory())
    except VCenterError as error:
        raise TaskFailed(error.error_code, f"cannot create the recovered VMs: {error}") from error
    async with ctx.sessionmaker() as session:
        local_ids = await repository.vm_ids_by_moref(session, placement.vcenter_id)
    for vm in vms:
        if "moref" in vm and vm["moref"] in local_ids:
            vm["vm_id"] = local_ids[vm["moref"]]
    await save_operation(ctx, vms=vms)
    recovered = sum(vm["outcome"] == "recovered" for vm in vms)
    if recovered == 0:
        raise TaskFailed("nothing_recovered", "no VM of the domain is in the recovery point")
    ctx.result["recovered"] = recovered


async def _wait_for_earlier_runbooks(
    ctx: TaskContext, op: RecoveryOperation, plan: RunbookPlan
) -> None:
    """Several runbooks start in their order: until the recoveries running here for domains
    whose runbook comes earlier have their VMs up (at most `RUNBOOK_WAIT_LIMIT`)."""
    deadline = ctx.clock.timestamp() + RUNBOOK_WAIT_LIMIT
    waited_for: set[str] = set()
    while True:
        async with ctx.sessionmaker() as session:
            running = await repository.running_elsewhere(session, op.domain_id)
        earlier = sorted(
            other.domain_name
            for other, runbook in running
            if runbook_plan(runbook).order < plan.order and not all_up(other)
        )
        if not earlier:
            break
        if ctx.clock.timestamp() >= deadline:
            await ctx.log(f"runbook order {plan.order}: gave up waiting for {', '.join(earlier)}")
            break
        if not waited_for.issuperset(earlier):
            await ctx.log(
                f"runbook order {plan.order}: waiting for the runbooks of {', '.join(earlier)}"
            )
        waited_for.update(earlier)
        await ctx.clock.sleep(RUNBOOK_POLL_SECONDS)
    if waited_for:
        ctx.result["waited_for_runbooks"] = sorted(waited_for)


def _stage_record(log: list[StageRecord], stage: Stage, names: list[str]) -> StageRecord:
    for found in log:
        if found["group"] == stage.group:
            return found
    record: StageRecord = {
        "group": stage.group,
        "order": stage.order,
        "delay_seconds": stage.delay_seconds,
        "started_at": None,
        "up_at": None,
        "finished": False,
        "vms": names,
        "scripts": [],
    }
    log.append(record)
    return record


async def _run_scripts(
    ctx: TaskContext,
    op: RecoveryOperation,
    stage: Stage,
    when: str,
    record: StageRecord,
    log: list[StageRecord],
) -> None:
    ran = {(script["name"], script["when"]) for script in record["scripts"]}
    variables = {
        "JETDR_DOMAIN": op.domain_name,
        "JETDR_KIND": op.kind,
        "JETDR_GROUP": stage.group or "",
        "JETDR_VMS": " ".join(record["vms"]),
        "JETDR_RECOVERY_POINT": op.recovery_point_id or "",
        "JETDR_SITE": ctx.platform.state.local_site_name or "",
    }
    for script in stage.scripts:
        if script.when != when or (script.name, when) in ran:
            continue
        started = ctx.clock.now().isoformat()
        outcome = await run_script(script.body, variables, ctx.clock.sleep)
        record["scripts"].append(
            {
                "name": script.name,
                "when": when,
                "exit_code": outcome.exit_code,
                "output": outcome.output,
                "started_at": started,
                "finished_at": ctx.clock.now().isoformat(),
            }
        )
        await ctx.log(
            f"runbook group {stage.group}: script {script.name} ({when}) exited {outcome.exit_code}"
        )
        await save_operation(ctx, runbook_log=log)


class _BringUp:
    """Creates (or finds) and powers on one recovered VM with its runbook settings."""

    def __init__(
        self,
        ctx: TaskContext,
        op: RecoveryOperation,
        vc: Any,
        placement: Placement,
        rows: dict[str, ProtectedVm],
        obsolete: set[str],
    ) -> None:
        self.ctx, self.op, self.vc, self.placement = ctx, op, vc, placement
        self.rows, self.obsolete = rows, obsolete
        self.test = is_test(op)
        self.existing: dict[str, Any] = {}

    async def look(self) -> None:
        self.existing = by_name((await self.vc.inventory()).vms)

    async def vm(self, vm: RecoveredVm, entry: RunbookVm, vms: list[RecoveredVm]) -> bool:
        """True when this call brought the VM up (False: skipped, or up already)."""
        ctx, placement, test = self.ctx, self.placement, self.test
        if vm["outcome"] in ("skipped", "recovered"):
            return False
        row = self.rows.get(vm["key"])
        if row is None:
            vm["outcome"], vm["error"] = "skipped", "removed from the domain meanwhile"
            return False
        name = test_vm_name(vm["name"]) if test else vm["name"]
        found = self.existing.get(name)
        if found is not None and found.moref != vm.get("moref"):
            if found.power_state == "poweredOn" and found.moref not in self.obsolete:
                raise TaskFailed(
                    "vm_running",
                    f"VM {name} still runs at this site: power it off (or remove it) "
                    f"and run the {self.op.kind.replace('_', ' ')} again",
                )
            await _detach_local(ctx, placement.vcenter_id, found.moref)
            await self.vc.destroy_vm(found.moref)
            found = None
        config = await _config(ctx, self.op, vm["key"])
        ip = entry.ip
        static = ip.address if ip and ip.mode == "static" else None
        wanted_network = entry.target_network
        network = (placement.networks.get(wanted_network) if wanted_network else None) or (
            (placement.test_network or placement.network) if test else placement.network
        )
        cpu = entry.cpu or (config.get("cpu") if config else None) or 2
        memory = entry.memory_mb or (config.get("memory_mb") if config else None) or 4096
        guest_os = (config.get("guest_os") if config else None) or "otherGuest64"
        if found is None:
            found = await self.vc.create_vm(
                VmSpec(
                    name=name,
                    cluster_moref=placement.cluster,
                    datastore_moref=placement.datastore,
                    network_moref=network,
                    cpu=cpu,
                    memory_mb=memory,
                    guest_os=guest_os,
                    disks_gb=tuple(
                        max(1, math.ceil(int(d["capacity_bytes"]) / GIB)) for d in row.disks
                    ),
                    disk_write_profiles=()
                    if test
                    else tuple(_profile(d.get("write_profile")) for d in row.disks),
                    extra_config=_guest_ip(ip) if static else (),
                )
            )
            vm["moref"], vm["cpu"], vm["memory_mb"] = found.moref, cpu, memory
            vm["network_id"] = wanted_network
            await save_operation(ctx, vms=vms)
        if found.power_state != "poweredOn":
            with contextlib.suppress(VCenterConflict):
                await self.vc.power_on_vm(found.moref)
        running = await self.vc.get_vm(found.moref)
        vm["outcome"], vm["ip"] = "recovered", running.ip
        vm["powered_on_at"] = vm["recovered_at"] = ctx.clock.now().isoformat()
        await save_operation(ctx, vms=vms)
        return True


def _guest_ip(ip: RunbookIp | None) -> tuple[tuple[str, str], ...]:
    """The static address as guestinfo keys (what the product's guest customization reads)."""
    if ip is None or ip.address is None:
        return ()
    pairs = [("guestinfo.jetstream.ip", ip.address)]
    if ip.prefix_length is not None:
        pairs.append(("guestinfo.jetstream.prefix_length", str(ip.prefix_length)))
    if ip.netmask is not None:
        pairs.append(("guestinfo.jetstream.netmask", ip.netmask))
    if ip.gateway is not None:
        pairs.append(("guestinfo.jetstream.gateway", ip.gateway))
    if ip.dns:
        pairs.append(("guestinfo.jetstream.dns", ",".join(ip.dns)))
    return tuple(pairs)


def _profile(raw: Any) -> dict[str, float | str]:
    """A disk's write profile as vCenter records carry it (numbers as floats)."""
    return {
        str(key): float(value) if isinstance(value, int | float) else str(value)
        for key, value in dict(raw or {}).items()
    }


async def _config(ctx: TaskContext, op: RecoveryOperation, key: str) -> VmConfig | None:
    domain, store = await domain_and_store(ctx)
    with contextlib.suppress(ObjectStoreError):
        return await read_vm_config(store, domain.container, key)
    return None


async def take_over(ctx: TaskContext) -> None:
    """Move ownership to this site in the manifest at a new epoch (the former owner is fenced
    at its next look), then resume protection from here into the same container."""
    if await is_paused(ctx):
        await release_domain(ctx)
        return
    op = await load_operation(ctx)
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
        manifest.claim(local, claimed, ctx.clock.now(), op.kind, sites)
        try:
            await write_manifest(store, domain.container, manifest)
        except ObjectStoreError as error:
            raise TaskFailed(error.error_code, error.message) from error
        await save_operation(ctx, claimed_epoch=claimed)
        op.claimed_epoch = claimed
    assert op.claimed_epoch is not None
    placement = await placement_of(ctx)
    async with ctx.sessionmaker() as session:
        local_ids = await repository.vm_ids_by_moref(session, placement.vcenter_id)
    recovered: dict[str, tuple[str, dict[str, Any]]] = {}
    vms = recovered_vms(op)
    for vm in vms:
        if vm["outcome"] == "recovered" and vm.get("moref") in local_ids:
            vm["vm_id"] = local_ids[vm["moref"]]
            recovered[vm["key"]] = (vm["vm_id"], vm["image"])
    # After a failback or a restore the domain runs at its primary site, protected from there.
    at_primary = op.kind in ("failback", "restore")
    engine = ctx.platform.worker(ReplicationEngine)
    try:
        async with engine.lock:
            origin = await engine.adopt(
                domain.id,
                op.claimed_epoch,
                recovered,
                VmStatus.PROTECTED if at_primary else VmStatus.RECOVERABLE,
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
        if op.kind == "failover":
            row.recovery_site = local
        if op.kind == "restore":
            row.primary_site = local
        row.mode = move_mode(
            row.mode, DomainMode.PROTECTING if at_primary else DomainMode.RUNNING_IN_FAILOVER
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
    op = await load_operation(ctx)
    await set_mode(
        ctx,
        DomainMode.CONTINUOUS_FAILBACK if op.kind == "failback" else DomainMode.CONTINUOUS_FAILOVER,
    )
    await save_operation(ctx, status="rehydrating")
    await release_domain(ctx)


async def undo_recovery(ctx: TaskContext) -> None:
    """A failed or cancelled recovery removes what it created, unless it already took the
    domain over (then the recovered VMs are the domain's)."""
    code, message = ctx.failure or ("failed", "the recovery failed")
    op = await load_operation(ctx)
    if op.claimed_epoch is None:
        morefs = [helper["moref"] for helper in helper_vms(op)]
        keep_helpers = op.status == "rehydrating"
        if keep_helpers:
            morefs = []
        morefs += [vm["moref"] for vm in recovered_vms(op) if "moref" in vm]
        with contextlib.suppress(TaskFailed, VCenterError):
            await destroy_vms(ctx, morefs)
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


# A restore recovers like a regular failover; `take_over` makes this site the primary.
RESTORE = dataclasses.replace(FAILOVER, type="restore")


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
