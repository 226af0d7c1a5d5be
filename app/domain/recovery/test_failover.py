"""Test failover: the domain's VMs recovered beside the protected ones (test names, no
ownership change) while protection goes on; stopping the test removes them."""

from __future__ import annotations

from app.domain.protection_domains.modes import DomainMode
from app.domain.protection_domains.tasks import release_domain
from app.domain.recovery.failover import recover_vms, undo_recovery
from app.domain.recovery.flow import RUNNING, destroy_vms, load_operation, save_operation, set_mode
from app.domain.recovery.records import recovered_vms
from app.domain.recovery.rehydration import create_helpers, rehydrate, remove_helpers
from app.tasks.registry import Step, TaskContext, TaskDefinition


async def enter_test(ctx: TaskContext) -> None:
    await set_mode(ctx, DomainMode.TEST_FAILOVER)
    await save_operation(ctx, status=RUNNING)
    await release_domain(ctx)


async def remove_test_vms(ctx: TaskContext) -> None:
    op = await load_operation(ctx)
    await destroy_vms(ctx, [vm["moref"] for vm in recovered_vms(op) if "moref" in vm])


async def end_test(ctx: TaskContext) -> None:
    op = await load_operation(ctx)
    now = ctx.clock.now()
    await set_mode(ctx, DomainMode(op.previous_mode))
    success = bool(ctx.params.get("success"))
    await save_operation(
        ctx,
        status="succeeded" if success else "failed",
        success=success,
        summary=str(ctx.params.get("summary") or "")[:4096] or None,
        finished_at=now,
        vms=[
            {**vm, "outcome": "removed" if "moref" in vm else vm["outcome"]}
            for vm in recovered_vms(op)
        ],
    )
    await release_domain(ctx)


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
