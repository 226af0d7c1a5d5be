from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from app.api.deps import CurrentUser, OperatorUser, paged, provide
from app.core.pagination import PageParams
from app.core.schemas import Page
from app.tasks.repository import SORTABLE
from app.tasks.schemas import TaskEventRead, TaskRead
from app.tasks.service import TaskService, to_read
from app.tasks.states import TaskStatus

router = APIRouter(prefix="/tasks", tags=["tasks"])
TaskServiceDep = Annotated[TaskService, provide(TaskService)]


@router.get("", response_model=Page[TaskRead])
async def list_tasks(
    _user: CurrentUser,
    task_service: TaskServiceDep,
    page: PageParams = paged(SORTABLE),
    status: TaskStatus | None = None,
    type: str | None = None,
    entity_id: str | None = None,
) -> Page[TaskRead]:
    result = await task_service.page(page, status, type, entity_id)
    return Page(items=[to_read(t) for t in result.items], meta=result.meta)


@router.get("/{task_id}", response_model=TaskRead)
async def get_task(
    task_id: str,
    _user: CurrentUser,
    task_service: TaskServiceDep,
) -> TaskRead:
    return to_read(await task_service.get(task_id))


@router.get("/{task_id}/events", response_model=list[TaskEventRead])
async def list_task_events(
    task_id: str,
    _user: CurrentUser,
    task_service: TaskServiceDep,
) -> list[TaskEventRead]:
    rows = await task_service.events(task_id)
    return [TaskEventRead.model_validate(row) for row in rows]


@router.post(
    "/{task_id}/actions/cancel", response_model=TaskRead, status_code=status.HTTP_202_ACCEPTED
)
async def cancel_task(
    task_id: str,
    user: OperatorUser,
    task_service: TaskServiceDep,
) -> TaskRead:
    return to_read(await task_service.cancel(task_id, user))
