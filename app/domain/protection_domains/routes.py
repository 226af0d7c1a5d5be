from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.deps import AdminUser, ContainerDep, CurrentUser, OperatorUser, SessionDep
from app.api.responses import ACCEPTED, accepted
from app.core.schemas import Page, PageMeta
from app.domain.protection_domains.schemas import DomainCreate, DomainRead, DomainUpdate
from app.domain.protection_domains.service import DomainService, to_read
from app.tasks.schemas import TaskRead

router = APIRouter(prefix="/protection-domains", tags=["protection domains"])


@router.post("", response_model=TaskRead, status_code=202, responses=ACCEPTED)
async def create_domain(
    spec: DomainCreate,
    operator: OperatorUser,
    session: SessionDep,
    container: ContainerDep,
    response: Response,
) -> TaskRead:
    """Task `create_domain`: the domain's container and manifest on its storage site. PITR is
    chosen here and cannot be changed later."""
    return accepted(response, await DomainService(session, container).create(spec, operator))


@router.get("", response_model=Page[DomainRead])
async def list_domains(
    _user: CurrentUser, session: SessionDep, container: ContainerDep
) -> Page[DomainRead]:
    items = [to_read(d) for d in await DomainService(session, container).all()]
    return Page(items=items, meta=PageMeta(total=len(items), limit=len(items), offset=0))


@router.get("/{domain_id}", response_model=DomainRead)
async def get_domain(
    domain_id: str, _user: CurrentUser, session: SessionDep, container: ContainerDep
) -> DomainRead:
    return to_read(await DomainService(session, container).get(domain_id))


@router.patch("/{domain_id}", response_model=DomainRead)
async def update_domain(
    domain_id: str,
    change: DomainUpdate,
    operator: OperatorUser,
    session: SessionDep,
    container: ContainerDep,
) -> DomainRead:
    return to_read(await DomainService(session, container).update(domain_id, change, operator))


@router.delete("/{domain_id}", response_model=TaskRead, status_code=202, responses=ACCEPTED)
async def delete_domain(
    domain_id: str,
    admin: AdminUser,
    session: SessionDep,
    container: ContainerDep,
    response: Response,
) -> TaskRead:
    return accepted(response, await DomainService(session, container).delete(domain_id, admin))
