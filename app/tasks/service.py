"""Starting, reading and cancelling tasks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import InvalidState, NotFound
from app.core.ids import new_id
from app.core.pagination import PageParams, PageResult
from app.core.principal import Principal, Role
from app.core.schemas import EntityRef
from app.domain.events import service as events
from app.tasks import repository
from app.tasks.models import Task, TaskEvent
from app.tasks.schemas import TaskError, TaskRead, TaskStep
from app.tasks.states import ACTIVE, StepStatus, TaskStatus

if TYPE_CHECKING:
    from app.domain.platform import Platform


def enqueue(
    session: AsyncSession,
    platform: Platform,
    task_type: str,
    entity: EntityRef,
    actor: str,
    params: dict[str, Any] | None = None,
) -> Task:
    """Adds a queued task to the caller's transaction; call `platform.tasks.wake()` after
    the commit so the runner never sees work that was rolled back."""
    definition = platform.tasks.definition(task_type)
    if definition is None:
        raise LookupError(f"task type {task_type} is not registered")
    now = platform.clock.now()
    task = Task(
        id=new_id("task"),
        type=task_type,
        status=TaskStatus.QUEUED.value,
        progress=0,
        entity_type=entity.type,
        entity_id=entity.id,
        entity_name=entity.name,
        steps=[
            {"name": name, "status": StepStatus.PENDING.value} for name in definition.step_names
        ],
        cursor=0,
        params=params or {},
        cancellable=definition.cancellable,
        created_by=actor,
        attempts=0,
        created_at=now,
    )
    session.add(task)
    session.add(TaskEvent(task_id=task.id, at=now, kind="state", message="queued"))
    return task


async def start_guarded(
    session: AsyncSession,
    platform: Platform,
    *,
    model: Any,
    entity: EntityRef,
    task_type: str,
    target: str,
    sources: Sequence[str],
    actor: str,
    params: dict[str, Any] | None = None,
    still_wanted: Callable[[AsyncSession], Awaitable[None]] | None = None,
) -> Task:
    """Start a task on an entity with a `status` and an `active_task_id`: a guarded update moves
    it to `target` only from `sources` and only while no other task holds it, so of concurrent
    requests exactly one wins and the others get 409 `invalid_state`.

    `still_wanted` checks, once the entity is held, what the caller checked before taking it (a
    task that finished in between may have done the work already); it raises to refuse."""
    task = enqueue(session, platform, task_type, entity, actor, params)
    moved = await session.execute(
        update(model)
        .where(
            model.id == entity.id,
            model.status.in_(list(sources)),
            model.active_task_id.is_(None),
        )
        .values(status=target, active_task_id=task.id)
        .execution_options(synchronize_session=False)
    )
    if not getattr(moved, "rowcount", 0):
        await session.rollback()
        current = await session.get(model, entity.id, populate_existing=True)
        if current is None:
            raise NotFound(f"{entity.type} {entity.id} does not exist")
        busy = f" (task {current.active_task_id} is running)" if current.active_task_id else ""
        raise InvalidState(
            f"{entity.type} {entity.name} is {current.status}{busy}; cannot start {task_type}",
            entity=entity.type,
            state=current.status,
            details=[
                {
                    "entity": entity.type,
                    "state": current.status,
                    "active_task_id": current.active_task_id,
                }
            ],
        )
    if still_wanted is not None:
        try:
            await still_wanted(session)
        except BaseException:
            await session.rollback()
            raise
    events.record(
        session,
        at=platform.clock.now(),
        actor=actor,
        action=f"{entity.type}.{task_type}_requested",
        message=f"{task_type.replace('_', ' ')} requested for {entity.type} {entity.name}",
        entity=(entity.type, entity.id, entity.name),
        task_id=task.id,
    )
    await session.commit()
    platform.tasks.wake()
    return task


def to_read(task: Task) -> TaskRead:
    error = (
        TaskError(error_code=task.error_code, message=task.error_message or "")
        if task.error_code
        else None
    )
    return TaskRead(
        id=task.id,
        type=task.type,
        status=task.status,
        progress=task.progress,
        entity=EntityRef(type=task.entity_type, id=task.entity_id, name=task.entity_name),
        steps=[TaskStep(name=s["name"], status=s["status"]) for s in task.steps],
        created_by=task.created_by,
        created_at=task.created_at,
        started_at=task.started_at,
        finished_at=task.finished_at,
        error=error,
        result=_public(task.result) if task.status == TaskStatus.SUCCEEDED.value else None,
        cancellable=task.cancellable
        and task.status in {TaskStatus.QUEUED.value, TaskStatus.RUNNING.value},
        owner=task.owner,
        attempts=task.attempts,
    )


def _public(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """Keys starting with `_` are a task's private bookkeeping, not part of its result."""
    if result is None:
        return None
    return {key: value for key, value in result.items() if not key.startswith("_")}


class TaskService:
    def __init__(self, session: AsyncSession, platform: Platform) -> None:
        self.session = session
        self.platform = platform

    async def get(self, task_id: str) -> Task:
        task = await repository.get(self.session, task_id)
        if task is None:
            raise NotFound(f"task {task_id} does not exist")
        return task

    async def page(
        self,
        params: PageParams,
        status: TaskStatus | None,
        task_type: str | None,
        entity_id: str | None,
    ) -> PageResult[Task]:
        return await repository.list_page(
            self.session,
            params,
            status=status.value if status else None,
            task_type=task_type,
            entity_id=entity_id,
        )

    async def events(self, task_id: str) -> list[TaskEvent]:
        await self.get(task_id)
        return list(await repository.events(self.session, task_id))

    async def cancel(self, task_id: str, actor: Principal) -> Task:
        task = await self.get(task_id)
        actor.require(Role.OPERATOR)
        if not task.cancellable or TaskStatus(task.status) not in ACTIVE:
            raise InvalidState(
                f"task {task.id} ({task.type}) is {task.status} and cannot be cancelled",
                entity="task",
                state=task.status,
            )
        now = self.platform.clock.now()
        moved = await repository.transition(
            self.session, task.id, [TaskStatus.QUEUED, TaskStatus.RUNNING], TaskStatus.CANCELLING
        )
        if not moved:
            await self.session.rollback()
            current = await self.get(task_id)
            raise InvalidState(
                f"task {task.id} is {current.status} and cannot be cancelled",
                entity="task",
                state=current.status,
            )
        repository.add_event(
            self.session, task.id, now, "state", f"cancel requested by {actor.username}"
        )
        events.record(
            self.session,
            at=now,
            actor=actor.username,
            action="task.cancel_requested",
            message=f"cancel of task {task.type} requested",
            entity=(task.entity_type, task.entity_id, task.entity_name),
            task_id=task.id,
        )
        await self.session.commit()
        self.platform.tasks.request_cancel(task.id)
        self.session.expire_all()
        return await self.get(task_id)
