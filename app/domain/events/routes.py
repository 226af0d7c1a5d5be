from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CurrentUser, SessionDep, paged
from app.core.pagination import PageParams
from app.core.schemas import Page
from app.domain.events import service
from app.domain.events.repository import SORTABLE
from app.domain.events.schemas import EventRead

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", response_model=Page[EventRead])
async def list_events(
    _user: CurrentUser,
    session: SessionDep,
    page: PageParams = paged(SORTABLE),
    action: str | None = None,
    entity_id: str | None = None,
    task_id: str | None = None,
    actor: str | None = None,
) -> Page[EventRead]:
    result = await service.list_events(
        session, page, action=action, entity_id=entity_id, task_id=task_id, actor=actor
    )
    return Page(items=[EventRead.model_validate(e) for e in result.items], meta=result.meta)
