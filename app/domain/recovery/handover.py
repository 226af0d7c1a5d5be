"""The owner's side of a handover (planned failover, failback): power the domain's VMs off,
wait until a recovery point holds everything they wrote, stop replicating, and report that
final point to the site taking over."""

from __future__ import annotations

import contextlib

from app.adapters.vcenter.errors import VCenterConflict, VCenterError, VCenterNotFound
from app.domain.events import service as events
from app.domain.inventory.service import sync_inventory
from app.domain.protection_domains.models import (
    DomainReplication,
    ProtectionDomain,
)
from app.domain.protection_domains.modes import DomainMode, IllegalModeMove, move_mode
from app.domain.recovery import repository
from app.domain.replication.engine import ReplicationEngine
from app.domain.storage_format.epochs import epoch_start
from app.domain.vcenters.tasks import connected
from app.tasks.registry import TaskContext, TaskFailed

# How long the owner keeps waiting for its log to drain during a handover.
RELEASE_WAIT_SECONDS = 86400.0
DRAIN_POLL_SECONDS = 15.0


async def shut_down_vms(ctx: TaskContext) -> None:
    """Gracefully power the domain's VMs off; their writes end here."""
    async with ctx.sessionmaker() as session:
        found = await repository.running_vms(session, ctx.entity_id)
    by_vcenter: dict[str, list[str]] = {}
    for vcenter_id, moref in found:
        by_vcenter.setdefault(vcenter_id, []).append(moref)
    try:
        for vcenter_id, morefs in by_vcenter.items():
            async with connected(ctx, vcenter_id) as vc:
                for moref in morefs:
                    with contextlib.suppress(VCenterConflict, VCenterNotFound):
                        await vc.power_off_vm(moref)
                await sync_inventory(ctx.platform, vcenter_id, await vc.inventory())
    except VCenterError as error:
        raise TaskFailed(error.error_code, f"cannot shut the VMs down: {error}") from error
    engine = ctx.platform.worker(ReplicationEngine)
    async with engine.lock:
        ctx.result["stopped_epoch"] = await engine.quiesce(ctx.entity_id)


async def drain_log(ctx: TaskContext) -> None:
    """Wait until a recovery point holds every write made before the shutdown."""
    stopped = int(ctx.result["stopped_epoch"])
    waited = 0.0
    while True:
        async with ctx.sessionmaker() as session:
            repl = await session.get(DomainReplication, ctx.entity_id)
            if repl is None:
                raise TaskFailed("invalid_state", "the domain does not replicate")
            if repl.fenced:
                raise TaskFailed("fenced", repl.last_error or "another site owns the domain")
            latest = repl.last_recovery_point_at
            if latest is not None and latest.timestamp() >= epoch_start(stopped):
                break
            error = repl.last_error
        if waited >= RELEASE_WAIT_SECONDS:
            raise TaskFailed(
                "log_not_drained",
                f"the replication log did not drain in {RELEASE_WAIT_SECONDS:.0f} s"
                + (f": {error}" if error else ""),
            )
        await ctx.clock.sleep(DRAIN_POLL_SECONDS)
        waited += DRAIN_POLL_SECONDS
        await ctx.report_progress(min(0.95, waited / 600.0))


async def stop_for_handover(ctx: TaskContext) -> None:
    engine = ctx.platform.worker(ReplicationEngine)
    async with engine.lock:
        await engine.halt(ctx.entity_id)
    async with ctx.sessionmaker() as session:
        domain = await session.get(ProtectionDomain, ctx.entity_id)
        if domain is None:
            raise TaskFailed("not_found", "the domain no longer exists")
        point = await repository.newest_point(session, domain.id, domain.epoch)
        if point is None:
            raise TaskFailed("no_recovery_point", "the domain has no recovery point")
        with contextlib.suppress(IllegalModeMove):
            domain.mode = move_mode(domain.mode, DomainMode.REPLICATION_DISABLED)
        domain.replication_enabled = False
        domain.status = "ready"
        domain.active_task_id = None
        to_site = str(ctx.params.get("to_site"))
        events.record(
            session,
            at=ctx.clock.now(),
            actor=ctx.actor,
            action="protection_domain.released",
            message=f"protection domain {domain.name}: VMs shut down and the log shipped up to "
            f"recovery point {point.id} for site {to_site}; replication stopped",
            entity=("protection_domain", domain.id, domain.name),
            task_id=ctx.task_id,
        )
        ctx.result.update(
            generation=point.generation,
            epoch=point.epoch,
            recovery_point_id=point.id,
            timestamp=point.timestamp.isoformat(),
        )
        await session.commit()
