from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import AdminUser, ContainerDep, CurrentUser, SessionDep
from app.domain.appliance.schemas import ApplianceRead, ApplianceUpdate
from app.domain.appliance.service import ApplianceService

router = APIRouter(prefix="/appliance", tags=["appliance"])


@router.get("", response_model=ApplianceRead)
async def get_appliance(
    _user: CurrentUser, session: SessionDep, container: ContainerDep
) -> ApplianceRead:
    return await ApplianceService(session, container).get()


@router.patch("", response_model=ApplianceRead)
async def update_appliance(
    change: ApplianceUpdate, user: AdminUser, session: SessionDep, container: ContainerDep
) -> ApplianceRead:
    return await ApplianceService(session, container).update(change, user)
