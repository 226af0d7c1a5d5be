from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

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
from app.domain.vcenters.schemas import (
    PermissionsRead,
    RestUser,
    ServiceAccounts,
    VCenterCreate,
    VCenterRead,
)
from app.domain.vcenters.service import VCenterService, to_read
from app.tasks.schemas import TaskRead

router = APIRouter(prefix="/vcenters", tags=["vcenters"])
VCenterServiceDep = Annotated[VCenterService, provide(VCenterService)]


SORT = by_attributes("hostname", "status", "id", "created_at")


@router.post("", response_model=TaskRead, status_code=202, responses=ACCEPTED)
async def register_vcenter(
    spec: VCenterCreate,
    admin: AdminUser,
    v_center_service: VCenterServiceDep,
    response: Response,
) -> TaskRead:
    """Register this appliance with a vCenter: connect, check version and clock skew, register
    the plugin extension and discover the inventory (task `register_vcenter`)."""
    task = await v_center_service.register(spec, admin)
    return accepted(response, task)


@router.get("", response_model=Page[VCenterRead])
async def list_vcenters(
    _user: CurrentUser,
    v_center_service: VCenterServiceDep,
    page: PageParams = paged(SORT),
) -> Page[VCenterRead]:
    items = [to_read(v) for v in await v_center_service.all()]
    return page_of(items, page, SORT, "hostname")


@router.get("/{vcenter_id}", response_model=VCenterRead)
async def get_vcenter(
    vcenter_id: str,
    _user: CurrentUser,
    v_center_service: VCenterServiceDep,
) -> VCenterRead:
    return to_read(await v_center_service.get(vcenter_id))


@router.delete("/{vcenter_id}", response_model=TaskRead, status_code=202, responses=ACCEPTED)
async def unregister_vcenter(
    vcenter_id: str,
    admin: AdminUser,
    v_center_service: VCenterServiceDep,
    response: Response,
    force: bool = False,
) -> TaskRead:
    task = await v_center_service.unregister(vcenter_id, force, admin)
    return accepted(response, task)


@router.post(
    "/{vcenter_id}/actions/refresh-inventory",
    response_model=TaskRead,
    status_code=202,
    responses=ACCEPTED,
)
async def refresh_inventory(
    vcenter_id: str,
    operator: OperatorUser,
    v_center_service: VCenterServiceDep,
    response: Response,
) -> TaskRead:
    task = await v_center_service.refresh_inventory(vcenter_id, operator)
    return accepted(response, task)


@router.post(
    "/{vcenter_id}/actions/register-plugin",
    response_model=TaskRead,
    status_code=202,
    responses=ACCEPTED,
)
async def register_plugin(
    vcenter_id: str,
    admin: AdminUser,
    v_center_service: VCenterServiceDep,
    response: Response,
) -> TaskRead:
    task = await v_center_service.register_plugin(vcenter_id, admin)
    return accepted(response, task)


@router.post(
    "/{vcenter_id}/actions/unregister-plugin",
    response_model=TaskRead,
    status_code=202,
    responses=ACCEPTED,
)
async def unregister_plugin(
    vcenter_id: str,
    admin: AdminUser,
    v_center_service: VCenterServiceDep,
    response: Response,
) -> TaskRead:
    task = await v_center_service.unregister_plugin(vcenter_id, admin)
    return accepted(response, task)


@router.post(
    "/{vcenter_id}/actions/create-service-accounts",
    response_model=TaskRead,
    status_code=202,
    responses=ACCEPTED,
)
async def create_service_accounts(
    vcenter_id: str,
    admin: AdminUser,
    v_center_service: VCenterServiceDep,
    response: Response,
    spec: Annotated[ServiceAccounts | None, Body()] = None,
) -> TaskRead:
    """The elevated user and the IO filter REST user in vCenter: a role cloned from CloudAdmin
    (`Admin` on premises) granted to both as a global permission (what the AVS install and
    `Enable-JetStreamRESTUser` do)."""
    task = await v_center_service.service_accounts(
        vcenter_id, spec or ServiceAccounts(), admin, create=True
    )
    return accepted(response, task)


@router.post(
    "/{vcenter_id}/actions/remove-service-accounts",
    response_model=TaskRead,
    status_code=202,
    responses=ACCEPTED,
)
async def remove_service_accounts(
    vcenter_id: str,
    admin: AdminUser,
    v_center_service: VCenterServiceDep,
    response: Response,
    spec: Annotated[ServiceAccounts | None, Body()] = None,
) -> TaskRead:
    """Revokes both global permissions and deletes the role once nobody holds it."""
    task = await v_center_service.service_accounts(
        vcenter_id, spec or ServiceAccounts(), admin, create=False
    )
    return accepted(response, task)


@router.post(
    "/{vcenter_id}/actions/enable-rest-user",
    response_model=TaskRead,
    status_code=202,
    responses=ACCEPTED,
)
async def enable_rest_user(
    vcenter_id: str,
    admin: AdminUser,
    v_center_service: VCenterServiceDep,
    response: Response,
    spec: Annotated[RestUser | None, Body()] = None,
) -> TaskRead:
    """The REST user alone, with its global permission (Enable-JetStreamRESTUser)."""
    accounts = (spec or RestUser()).accounts()
    task = await v_center_service.service_accounts(vcenter_id, accounts, admin, create=True)
    return accepted(response, task)


@router.post(
    "/{vcenter_id}/actions/disable-rest-user",
    response_model=TaskRead,
    status_code=202,
    responses=ACCEPTED,
)
async def disable_rest_user(
    vcenter_id: str,
    admin: AdminUser,
    v_center_service: VCenterServiceDep,
    response: Response,
    spec: Annotated[RestUser | None, Body()] = None,
) -> TaskRead:
    """Revokes the REST user's global permission (Disable-JetStreamRESTUser); the elevated
    user keeps its own."""
    accounts = (spec or RestUser()).accounts()
    task = await v_center_service.service_accounts(vcenter_id, accounts, admin, create=False)
    return accepted(response, task)


@router.get("/{vcenter_id}/permissions", response_model=PermissionsRead)
async def get_permissions(
    vcenter_id: str,
    _admin: AdminUser,
    v_center_service: VCenterServiceDep,
) -> PermissionsRead:
    """vCenter's roles and global permissions, read live."""
    return await v_center_service.permissions(vcenter_id)
