from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from app.api.deps import AdminUser, CurrentUser, paged, provide
from app.api.responses import page_of
from app.core.pagination import PageParams, by_attributes
from app.core.schemas import Page
from app.domain.appliance.schemas import ApplianceRead
from app.domain.avs.schemas import (
    EXECUTION_NAME,
    ApplianceResize,
    ScriptExecutionCreate,
    ScriptExecutionRead,
    ScriptPackageRead,
)
from app.domain.avs.service import ScriptExecutionService, package

router = APIRouter(prefix="/avs", tags=["avs"])
appliance_router = APIRouter(prefix="/appliance", tags=["appliance"])
ServiceDep = Annotated[ScriptExecutionService, provide(ScriptExecutionService)]
ExecutionName = Annotated[str, Path(pattern=EXECUTION_NAME, max_length=64)]
SORT = by_attributes("name", "submitted_at", "provisioning_state")


@router.get("/script-package", response_model=ScriptPackageRead)
async def get_script_package(_user: CurrentUser) -> ScriptPackageRead:
    """The run-command package this appliance serves: every cmdlet and its parameters."""
    return package()


@router.get("/script-executions", response_model=Page[ScriptExecutionRead])
async def list_script_executions(
    _user: CurrentUser,
    service: ServiceDep,
    page: PageParams = paged(SORT),
) -> Page[ScriptExecutionRead]:
    return page_of(await service.all(), page, SORT, "submitted_at")


@router.put(
    "/script-executions/{name}",
    response_model=ScriptExecutionRead,
    status_code=201,
    responses={200: {"description": "the same request again: the execution it made"}},
)
async def submit_script_execution(
    name: ExecutionName,
    spec: ScriptExecutionCreate,
    admin: AdminUser,
    service: ServiceDep,
    response: Response,
) -> ScriptExecutionRead:
    """Runs a cmdlet as a named execution (one at a time, in the order submitted); follow it
    with GET until `provisioning_state` is Succeeded, Failed or Cancelled."""
    execution, created = await service.submit(name, spec, admin)
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/api/v1/avs/script-executions/{name}"
    return execution


@router.get("/script-executions/{name}", response_model=ScriptExecutionRead)
async def get_script_execution(
    name: ExecutionName, _user: CurrentUser, service: ServiceDep
) -> ScriptExecutionRead:
    return await service.get(name)


@router.delete("/script-executions/{name}", status_code=204)
async def delete_script_execution(
    name: ExecutionName, admin: AdminUser, service: ServiceDep
) -> Response:
    await service.delete(name, admin)
    return Response(status_code=204)


@appliance_router.post("/actions/resize", response_model=ApplianceRead)
async def resize_appliance(
    size: ApplianceResize, admin: AdminUser, service: ServiceDep
) -> ApplianceRead:
    """The MSA VM's vCPUs and memory (Resize-JetDRMSAResources): powered off, changed in
    vCenter, powered on again."""
    return await service.resize(size.cpu_count, size.memory_gb, admin)
