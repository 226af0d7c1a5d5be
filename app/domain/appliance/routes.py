from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import AdminUser, CurrentUser, PlatformDep, SessionDep
from app.domain.appliance.schemas import ApplianceRead, ApplianceUpdate
from app.domain.appliance.service import ApplianceService

router = APIRouter(prefix="/appliance", tags=["appliance"])


@router.get("", response_model=ApplianceRead)
async def get_appliance(
    _user: CurrentUser, session: SessionDep, platform: PlatformDep
) -> ApplianceRead:
    return await ApplianceService(session, platform).get()


@router.patch("", response_model=ApplianceRead)
async def update_appliance(
    change: ApplianceUpdate, user: AdminUser, session: SessionDep, platform: PlatformDep
) -> ApplianceRead:
    return await ApplianceService(session, platform).update(change, user)
