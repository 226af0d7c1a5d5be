from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from app.api.deps import (
    AdminUser,
    CurrentUser,
    OperatorUser,
    paged,
    provide,
)
from app.api.responses import ACCEPTED, accepted, page_of
from app.core.pagination import PageParams, by_attributes
from app.core.schemas import Page
from app.domain.protection_domains.schemas import (
    DomainCreate,
    DomainRead,
    DomainUpdate,
    PitrWindowRead,
    ProtectedVmRead,
    RecoveryPointList,
    StatisticsRead,
    VmsAdd,
)
from app.domain.protection_domains.service import DomainService
from app.tasks.schemas import TaskRead

router = APIRouter(prefix="/protection-domains", tags=["protection domains"])
DomainServiceDep = Annotated[DomainService, provide(DomainService)]


DOMAIN_SORT = by_attributes("name", "mode", "health", "priority", "id", "owner_site")
VM_SORT = by_attributes("name", "status", "protection_mode", "added_at", "replica_key")


@router.post("", response_model=TaskRead, status_code=202, responses=ACCEPTED)
async def create_domain(
    spec: DomainCreate,
    operator: OperatorUser,
    domain_service: DomainServiceDep,
    response: Response,
) -> TaskRead:
    """Task `create_domain`: the domain's container and manifest on its storage site. PITR is
    chosen here and cannot be changed later."""
    return accepted(response, await domain_service.create(spec, operator))


@router.get("", response_model=Page[DomainRead])
async def list_domains(
    _user: CurrentUser,
    domain_service: DomainServiceDep,
    page: PageParams = paged(DOMAIN_SORT),
) -> Page[DomainRead]:
    return page_of(
        await domain_service.reads(await domain_service.all()), page, DOMAIN_SORT, "name"
    )


@router.get("/{domain_id}", response_model=DomainRead)
async def get_domain(
    domain_id: str,
    _user: CurrentUser,
    domain_service: DomainServiceDep,
) -> DomainRead:
    return await domain_service.read(domain_id)


@router.patch("/{domain_id}", response_model=DomainRead)
async def update_domain(
    domain_id: str,
    change: DomainUpdate,
    operator: OperatorUser,
    domain_service: DomainServiceDep,
) -> DomainRead:
    await domain_service.update(domain_id, change, operator)
    return await domain_service.read(domain_id)


@router.delete("/{domain_id}", response_model=TaskRead, status_code=202, responses=ACCEPTED)
async def delete_domain(
    domain_id: str,
    admin: AdminUser,
    domain_service: DomainServiceDep,
    response: Response,
) -> TaskRead:
    return accepted(response, await domain_service.delete(domain_id, admin))


@router.post("/{domain_id}/vms", response_model=TaskRead, status_code=202, responses=ACCEPTED)
async def add_vms(
    domain_id: str,
    spec: VmsAdd,
    operator: OperatorUser,
    domain_service: DomainServiceDep,
    response: Response,
) -> TaskRead:
    """Task `add_vms`. While the domain protects, each VM starts its initial sync at once."""
    return accepted(response, await domain_service.add_vms(domain_id, spec, operator))


@router.get("/{domain_id}/vms", response_model=Page[ProtectedVmRead])
async def list_vms(
    domain_id: str,
    _user: CurrentUser,
    domain_service: DomainServiceDep,
    page: PageParams = paged(VM_SORT),
) -> Page[ProtectedVmRead]:
    items = await domain_service.vms(domain_id)
    return page_of(items, page, VM_SORT, "name")


@router.delete(
    "/{domain_id}/vms/{vm_id}", response_model=TaskRead, status_code=202, responses=ACCEPTED
)
async def remove_vm(
    domain_id: str,
    vm_id: str,
    operator: OperatorUser,
    domain_service: DomainServiceDep,
    response: Response,
) -> TaskRead:
    return accepted(response, await domain_service.remove_vm(domain_id, vm_id, operator))


@router.post(
    "/{domain_id}/actions/start-protection",
    response_model=TaskRead,
    status_code=202,
    responses=ACCEPTED,
)
async def start_protection(
    domain_id: str,
    operator: OperatorUser,
    domain_service: DomainServiceDep,
    response: Response,
) -> TaskRead:
    """ "Replication Enabled: Yes". VMs never synced start their initial sync; after a stop,
    the changes made meanwhile are resynced."""
    return accepted(response, await domain_service.start_protection(domain_id, operator))


@router.post(
    "/{domain_id}/actions/stop-protection",
    response_model=TaskRead,
    status_code=202,
    responses=ACCEPTED,
)
async def stop_protection(
    domain_id: str,
    operator: OperatorUser,
    domain_service: DomainServiceDep,
    response: Response,
) -> TaskRead:
    """ "Replication Enabled: No": the RPO grows and a `replication_disabled` alarm is raised."""
    return accepted(response, await domain_service.stop_protection(domain_id, operator))


@router.get("/{domain_id}/recovery-points", response_model=RecoveryPointList)
async def list_recovery_points(
    domain_id: str,
    _user: CurrentUser,
    domain_service: DomainServiceDep,
) -> RecoveryPointList:
    """Newest first: every point within the PITR window, or only the latest without PITR."""
    items = await domain_service.recovery_points(domain_id)
    return RecoveryPointList(items=items)


@router.get("/{domain_id}/pitr", response_model=PitrWindowRead)
async def get_pitr_window(
    domain_id: str,
    _user: CurrentUser,
    domain_service: DomainServiceDep,
) -> PitrWindowRead:
    """The point-in-time window (its oldest and newest points) and its storage: estimated from
    the creator's `estimated_data_rate_iops`, projected from the VMs' observed write rate."""
    return await domain_service.pitr_window(domain_id)


@router.get("/{domain_id}/statistics", response_model=StatisticsRead)
async def get_statistics(
    domain_id: str,
    _user: CurrentUser,
    domain_service: DomainServiceDep,
) -> StatisticsRead:
    return await domain_service.statistics(domain_id)
