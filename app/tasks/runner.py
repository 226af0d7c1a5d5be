"""The in-process task runner.

Queued tasks are claimed with a guarded update (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
several appliance processes sharing one database never claim the same task) and executed step
by step; after each step the cursor, progress and partial result are committed, so a restart
resumes a task at the step it was in (steps are idempotent) or, for task types that cannot
resume, fails it with `interrupted`. No task stays `running` across a restart.

A running task is leased to its process (`owner`, `lease_until`, wall clock), which renews the
lease while it runs. A process that dies stops renewing: when the lease runs out, another
process takes the task over and resumes it the same way; a restarted process takes its own
tasks back at once. A process that finds, between two steps, that its task was taken over
stops running it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update

from app.adapters.vcenter.errors import VCenterError
from app.domain.events import service as events
from app.tasks import repository
from app.tasks.models import Task
from app.tasks.registry import TaskContext, TaskDefinition, TaskFailed, TaskRegistry
from app.tasks.states import TRANSITIONS, StepStatus, TaskStatus

if TYPE_CHECKING:
    from app.domain.platform import Platform

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
ACTIVE_ORDER = (TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.CANCELLING)
POLL_SECONDS = 1.0


class _CancelRequested(Exception):
    pass


class _TakenOver(Exception):
    """Another process holds the task now (this one's lease ran out)."""


def _wall() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TaskRunner:
    def __init__(self, platform: Platform, registry: TaskRegistry, max_concurrency: int) -> None:
        self._platform = platform
        self._registry = registry
        self._max_concurrency = max_concurrency
        self._wake = asyncio.Event()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._cancel_requested: set[str] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._node = platform.state.node_id
        self._lease = dt.timedelta(seconds=platform.settings.tasks.lease_seconds)
        self._renewed_at = 0.0

    @property
    def registry(self) -> TaskRegistry:
        return self._registry

    async def start(self) -> None:
        await self._adopt(own=True)
        self._loop_task = asyncio.create_task(self._loop(), name="task-runner")

    async def stop(self) -> None:
        """Stop without touching task rows: whatever was running resumes at the next start."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        await self.abandon_all()

    async def abandon_all(self) -> None:
        running = list(self._running.values())
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._running.clear()
        self._cancel_requested.clear()

    def definition(self, task_type: str) -> TaskDefinition | None:
        return self._registry.get(task_type)

    def wake(self) -> None:
        self._wake.set()

    def request_cancel(self, task_id: str) -> None:
        """The task is already `cancelling` in SQL; stop it here, or finish it if idle."""
        self._cancel_requested.add(task_id)
        running = self._running.get(task_id)
        if running is not None:
            running.cancel()
        else:
            self._spawn(task_id, abort=(TaskStatus.CANCELLED, "cancelled", "cancelled"))

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                if time.monotonic() - self._renewed_at >= self._lease.total_seconds() / 3:
                    await self._renew()
                    await self._adopt(own=False)
                await self._claim()
            except Exception:
                logger.exception("claiming queued tasks failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def _claim(self) -> None:
        capacity = self._max_concurrency - len(self._running)
        if capacity <= 0:
            return
        claimed: list[str] = []
        now = self._platform.clock.now()
        async with self._platform.sessionmaker() as session:
            queued = await session.scalars(
                select(Task.id)
                .where(Task.status == TaskStatus.QUEUED.value)
                .order_by(Task.seq)
                .limit(capacity)
                .with_for_update(skip_locked=True)
            )
            for task_id in queued.all():
                if await repository.transition(
                    session,
                    task_id,
                    [TaskStatus.QUEUED],
                    TaskStatus.RUNNING,
                    started_at=now,
                    attempts=Task.attempts + 1,
                    owner=self._node,
                    lease_until=_wall() + self._lease,
                ):
                    repository.add_event(session, task_id, now, "state", "started")
                    claimed.append(task_id)
            await session.commit()
        for task_id in claimed:
            self._spawn(task_id)

    def _spawn(self, task_id: str, abort: tuple[TaskStatus, str, str] | None = None) -> None:
        if task_id in self._running:
            return
        coroutine = self._execute(task_id) if abort is None else self._abort(task_id, *abort)
        self._running[task_id] = asyncio.create_task(coroutine, name=f"task-{task_id}")

    async def _renew(self) -> None:
        """Extend the lease of every task this process runs."""
        self._renewed_at = time.monotonic()
        if not self._running:
            return
        async with self._platform.sessionmaker() as session:
            await session.execute(
                update(Task)
                .where(
                    Task.owner == self._node,
                    Task.id.in_(list(self._running)),
                    Task.status.in_([TaskStatus.RUNNING.value, TaskStatus.CANCELLING.value]),
                )
                .values(lease_until=_wall() + self._lease)
            )
            await session.commit()

    async def _adopt(self, *, own: bool) -> None:
        """Resume or fail the active tasks nobody runs: those whose lease ran out, and, when
        this process starts, its own from before a restart."""
        now = self._platform.clock.now()
        wall = _wall()
        orphaned = or_(Task.owner.is_(None), Task.lease_until < wall)
        if own:
            orphaned = or_(orphaned, Task.owner == self._node)
        async with self._platform.sessionmaker() as session:
            rows = await session.scalars(
                select(Task)
                .where(
                    Task.status.in_([TaskStatus.RUNNING.value, TaskStatus.CANCELLING.value]),
                    orphaned,
                    Task.id.not_in(list(self._running)),
                )
                .order_by(Task.seq)
                .with_for_update(skip_locked=True)
            )
            resume: list[str] = []
            abort: list[tuple[str, tuple[TaskStatus, str, str]]] = []
            for task in rows.all():
                how = "resumed after appliance restart"
                if task.owner not in (None, self._node):
                    how = f"taken over from {task.owner} by {self._node} (its lease ran out)"
                    logger.warning("task %s %s", task.id, how)
                task.owner = self._node
                task.lease_until = wall + self._lease
                definition = self._registry.get(task.type)
                if task.status == TaskStatus.CANCELLING.value:
                    abort.append(
                        (task.id, (TaskStatus.CANCELLED, "cancelled", "cancelled during restart"))
                    )
                elif (
                    definition is None
                    or not definition.resume_after_restart
                    or task.attempts >= MAX_ATTEMPTS
                ):
                    abort.append(
                        (
                            task.id,
                            (
                                TaskStatus.FAILED,
                                "interrupted",
                                "the appliance restarted while the task was running",
                            ),
                        )
                    )
                else:
                    task.attempts += 1
                    repository.add_event(session, task.id, now, "state", how)
                    resume.append(task.id)
            await session.commit()
        for task_id, outcome in abort:
            self._spawn(task_id, abort=outcome)
        for task_id in resume:
            self._spawn(task_id)

    async def _context(self, task: Task) -> TaskContext:
        task_id = task.id

        async def report_progress(fraction: float) -> None:
            await self._report(task_id, fraction)

        async def log(message: str) -> None:
            async with self._platform.sessionmaker() as session:
                repository.add_event(session, task_id, self._platform.clock.now(), "log", message)
                await session.commit()

        return TaskContext(
            task_id=task.id,
            type=task.type,
            entity_id=task.entity_id,
            actor=task.created_by,
            params=dict(task.params),
            result=dict(task.result or {}),
            platform=self._platform,
            report_progress=report_progress,
            log=log,
        )

    async def _load(self, task_id: str) -> tuple[Task, TaskDefinition | None]:
        async with self._platform.sessionmaker() as session:
            task = await repository.get(session, task_id)
        if task is None:
            raise LookupError(task_id)
        return task, self._registry.get(task.type)

    async def _execute(self, task_id: str) -> None:
        context: TaskContext | None = None
        definition: TaskDefinition | None = None
        try:
            task, definition = await self._load(task_id)
            if definition is None:
                await self._finish_failed(
                    task_id, None, None, "unknown_task_type", f"no handler for {task.type}"
                )
                return
            context = await self._context(task)
            for index in range(task.cursor, len(definition.steps)):
                await self._step_started(task_id, index)
                step = definition.steps[index]
                await self._platform.faults.before_step(task.type, step.name, context.clock)
                await step.run(context)
                await self._step_finished(task_id, definition, index, context.result)
            await self._finish(task_id, TaskStatus.SUCCEEDED, context.result)
        except TaskFailed as failure:
            await self._finish_failed(
                task_id, definition, context, failure.error_code, failure.message
            )
        except VCenterError as error:
            await self._finish_failed(task_id, definition, context, error.error_code, error.message)
        except _TakenOver:
            logger.warning("task %s was taken over by another process; stopped here", task_id)
        except (asyncio.CancelledError, _CancelRequested):
            if task_id not in self._cancel_requested:
                raise
            if context is not None:
                context.failure = ("cancelled", "the task was cancelled")
            await self._compensate(definition, context)
            await self._finish(task_id, TaskStatus.CANCELLED, None)
        except Exception as error:
            logger.exception("task %s failed unexpectedly", task_id)
            await self._finish_failed(
                task_id, definition, context, "internal_error", f"unexpected error: {error}"
            )
        finally:
            self._running.pop(task_id, None)
            self._cancel_requested.discard(task_id)
            self.wake()

    async def _abort(self, task_id: str, status: TaskStatus, code: str, message: str) -> None:
        try:
            task, definition = await self._load(task_id)
            context = await self._context(task)
            context.failure = (code, message)
            await self._compensate(definition, context)
            if status is TaskStatus.CANCELLED:
                await self._finish(task_id, TaskStatus.CANCELLED, None)
            else:
                await self._finish(task_id, TaskStatus.FAILED, None, code, message)
        finally:
            self._running.pop(task_id, None)
            self._cancel_requested.discard(task_id)
            self.wake()

    async def _compensate(
        self, definition: TaskDefinition | None, context: TaskContext | None
    ) -> None:
        if definition is None or context is None or definition.compensate is None:
            return
        try:
            await definition.compensate(context)
        except Exception:
            logger.exception("undoing task %s failed", context.task_id)

    async def _step_started(self, task_id: str, index: int) -> None:
        async with self._platform.sessionmaker() as session:
            task = await repository.get(session, task_id)
            assert task is not None
            if task.owner is not None and task.owner != self._node:
                raise _TakenOver
            if task.status == TaskStatus.CANCELLING.value:
                self._cancel_requested.add(task_id)
                raise _CancelRequested
            steps = [dict(step) for step in task.steps]
            steps[index]["status"] = StepStatus.RUNNING.value
            task.steps = steps
            repository.add_event(
                session, task_id, self._platform.clock.now(), "step", f"{steps[index]['name']}"
            )
            await session.commit()

    async def _step_finished(
        self, task_id: str, definition: TaskDefinition, index: int, result: dict[str, Any]
    ) -> None:
        weights = [step.weight for step in definition.steps]
        async with self._platform.sessionmaker() as session:
            task = await repository.get(session, task_id)
            assert task is not None
            steps = [dict(step) for step in task.steps]
            steps[index]["status"] = StepStatus.SUCCEEDED.value
            task.steps = steps
            task.cursor = index + 1
            task.progress = min(99, int(100 * sum(weights[: index + 1]) / sum(weights)))
            task.result = dict(result)
            await session.commit()

    async def _report(self, task_id: str, fraction: float) -> None:
        task, definition = await self._load(task_id)
        if definition is None:
            return
        weights = [step.weight for step in definition.steps]
        done = sum(weights[: task.cursor]) + weights[task.cursor] * max(0.0, min(fraction, 1.0))
        async with self._platform.sessionmaker() as session:
            current = await repository.get(session, task_id)
            if current is not None:
                current.progress = min(99, int(100 * done / sum(weights)))
                await session.commit()

    async def _finish_failed(
        self,
        task_id: str,
        definition: TaskDefinition | None,
        context: TaskContext | None,
        code: str,
        message: str,
    ) -> None:
        if context is not None:
            context.failure = (code, message)
        await self._compensate(definition, context)
        await self._finish(task_id, TaskStatus.FAILED, None, code, message)

    async def _finish(
        self,
        task_id: str,
        status: TaskStatus,
        result: dict[str, Any] | None,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> None:
        now = self._platform.clock.now()
        async with self._platform.sessionmaker() as session:
            task = await repository.get(session, task_id)
            assert task is not None
            steps = [dict(step) for step in task.steps]
            for step in steps:
                if step["status"] == StepStatus.RUNNING.value:
                    step["status"] = (
                        StepStatus.SUCCEEDED.value
                        if status is TaskStatus.SUCCEEDED
                        else StepStatus.FAILED.value
                    )
                elif step["status"] == StepStatus.PENDING.value and status is not (
                    TaskStatus.SUCCEEDED
                ):
                    step["status"] = StepStatus.SKIPPED.value
            values: dict[str, Any] = {
                "finished_at": now,
                "lease_until": None,
                "steps": steps,
                "error_code": error_code,
                "error_message": error_message,
            }
            if status is TaskStatus.SUCCEEDED:
                values["progress"] = 100
                values["result"] = result
            sources = [source for source in ACTIVE_ORDER if status in TRANSITIONS[source]]
            moved = await repository.transition(session, task_id, sources, status, **values)
            if moved:
                repository.add_event(
                    session,
                    task_id,
                    now,
                    "state",
                    status.value if error_message is None else f"{status.value}: {error_message}",
                )
                events.record(
                    session,
                    at=now,
                    actor=task.created_by,
                    action=f"task.{status.value}",
                    message=f"task {task.type} {status.value}"
                    + (f" ({error_code}: {error_message})" if error_code else ""),
                    entity=(task.entity_type, task.entity_id, task.entity_name),
                    task_id=task_id,
                )
            await session.commit()
