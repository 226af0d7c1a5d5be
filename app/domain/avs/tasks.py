"""The task that runs one run-command execution."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import ValidationError

from app.core.errors import AppError
from app.core.principal import Principal, Role
from app.domain.avs import catalog
from app.domain.avs.cmdlets import HANDLERS
from app.domain.avs.execution import CmdletFailed, Run
from app.domain.avs.models import ScriptExecution
from app.domain.avs.schemas import FINISHED, ExecutionState
from app.domain.avs.service import TASK_TYPE, earlier_unfinished
from app.tasks.registry import Step, TaskContext, TaskDefinition, TaskFailed

TURN_POLL_SECONDS = 0.2


async def _wait_for_turn(ctx: TaskContext, name: str) -> None:
    """Run commands run one at a time, in the order submitted (reference §5.2)."""
    said = False
    while True:
        async with ctx.sessionmaker() as session:
            earlier = await earlier_unfinished(session, name)
        if not earlier:
            return
        if not said:
            await ctx.log(f"waiting for the execution submitted before it: {earlier[0]}")
            said = True
        await asyncio.sleep(TURN_POLL_SECONDS)


async def _values(ctx: TaskContext, execution: ScriptExecution) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for parameter in execution.parameters:
        declared = catalog.BY_NAME[execution.cmdlet.lower()].parameter(parameter["name"])
        # Parameters are matched without regard to case, as PowerShell does.
        name = declared.name if declared is not None else parameter["name"]
        if parameter["type"] == "Credential":
            password = ctx.platform.secrets.decrypt(parameter["secret"])
            values[name] = (parameter["username"], password)
        elif parameter["type"] == "SecureValue":
            values[name] = ctx.platform.secrets.decrypt(parameter["secret"])
        else:
            values[name] = parameter["value"]
    for hidden in ("VCenter", "VCenterCredential"):
        for key in list(values):
            if key.lower() == hidden.lower():
                values[hidden] = values.pop(key)
    return values


async def _finish(
    ctx: TaskContext, name: str, state: ExecutionState, reason: str | None = None
) -> None:
    async with ctx.sessionmaker() as session:
        execution = await session.get(ScriptExecution, name)
        if execution is None or ExecutionState(execution.state) in FINISHED:
            return
        execution.state = state.value
        execution.finished_at = ctx.clock.now()
        execution.failure_reason = reason
        if reason is not None:
            execution.errors = [*execution.errors, reason]
        await session.commit()


async def run_execution(ctx: TaskContext) -> None:
    name = ctx.params["execution"]
    await _wait_for_turn(ctx, name)
    async with ctx.sessionmaker() as session:
        execution = await session.get(ScriptExecution, name)
        if execution is None:
            raise TaskFailed("not_found", f"execution {name} was deleted")
        if execution.state == ExecutionState.RUNNING.value:
            # Resumed after a restart with its cmdlet already begun: not run again half-way.
            # One still waiting for its turn had not begun, and runs now.
            raise TaskFailed(
                "interrupted",
                f"the appliance restarted while {execution.cmdlet} was running; "
                "it is not run again half-way",
            )
        execution.state = ExecutionState.RUNNING.value
        execution.started_at = ctx.clock.now()
        await session.commit()
        cmdlet = catalog.BY_NAME[execution.cmdlet.lower()]
        values = await _values(ctx, execution)
        timeout = execution.timeout_seconds
    actor = Principal(ctx.params["user_id"], ctx.actor, Role(ctx.params["role"]))
    run = Run(ctx.platform, name, cmdlet, values, actor)
    await ctx.log(f"{cmdlet.name} running")
    try:
        async with asyncio.timeout(timeout):
            await HANDLERS[cmdlet.name.lower()](run)
    except TimeoutError:
        reason = f"{cmdlet.name} did not finish within its timeout of {timeout} s"
    except CmdletFailed as failure:
        reason = failure.message
    except AppError as error:
        reason = f"{error.error_code}: {error.message}"
    except ValidationError as error:
        # A value the submission's type check let through and the appliance's own models refuse
        # (a VM name too long for vCenter): the cmdlet's failure, not an internal error.
        refused = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors(include_url=False)
        )
        reason = f"{cmdlet.name} refused a parameter value: {refused}"
    else:
        await _finish(ctx, name, ExecutionState.SUCCEEDED)
        ctx.result["provisioning_state"] = ExecutionState.SUCCEEDED.value
        return
    await _finish(ctx, name, ExecutionState.FAILED, reason)
    raise TaskFailed("script_failed", reason)


async def stop_execution(ctx: TaskContext) -> None:
    """The task was cancelled or broke: its execution ends with it."""
    code, message = ctx.failure or ("failed", "the execution stopped")
    state = ExecutionState.CANCELLED if code == "cancelled" else ExecutionState.FAILED
    await _finish(ctx, ctx.params["execution"], state, f"{code}: {message}")


RUN_SCRIPT_EXECUTION = TaskDefinition(
    type=TASK_TYPE,
    steps=(Step("run", run_execution),),
    compensate=stop_execution,
)

DEFINITIONS = (RUN_SCRIPT_EXECUTION,)
