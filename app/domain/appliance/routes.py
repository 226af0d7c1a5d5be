from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from app.api.deps import AdminUser, CurrentUser, provide
from app.domain.appliance.schemas import ApplianceRead, ApplianceUpdate
from app.domain.appliance.service import ApplianceService

router = APIRouter(prefix="/appliance", tags=["appliance"])
ApplianceServiceDep = Annotated[ApplianceService, provide(ApplianceService)]


@router.get("", response_model=ApplianceRead)
async def get_appliance(
    _user: CurrentUser,
    appliance_service: ApplianceServiceDep,
) -> ApplianceRead:
    return await appliance_service.get()


@router.patch("", response_model=ApplianceRead)
async def update_appliance(
    change: ApplianceUpdate,
    user: AdminUser,
    appliance_service: ApplianceServiceDep,
) -> ApplianceRead:
    return await appliance_service.update(change, user)
