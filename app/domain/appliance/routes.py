from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from app.api.deps import AdminUser, CurrentUser, provide
from app.domain.appliance.schemas import (
    ApplianceRead,
    ApplianceUpdate,
    DaemonRestart,
    SshdUpdate,
    SubscriptionRead,
    SubscriptionUpdate,
)
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


@router.put("/sshd", response_model=ApplianceRead)
async def set_sshd(
    change: SshdUpdate,
    user: AdminUser,
    appliance_service: ApplianceServiceDep,
) -> ApplianceRead:
    """Starts or stops the appliance's SSH daemon (Enable-/Disable-JetDRSshd)."""
    return await appliance_service.set_sshd(change.enabled, user)


@router.post("/actions/restart-daemon", response_model=ApplianceRead)
async def restart_daemon(
    user: AdminUser,
    appliance_service: ApplianceServiceDep,
    restart: Annotated[DaemonRestart | None, Body()] = None,
) -> ApplianceRead:
    """Restarts one daemon, or all of them (Restart-JetDRDaemon; no body: all); the emulator
    records it."""
    name = restart.name if restart is not None else None
    return await appliance_service.restart_daemons(name, user)


subscription_router = APIRouter(prefix="/subscription", tags=["appliance"])


@subscription_router.get("", response_model=SubscriptionRead)
async def get_subscription(
    _user: CurrentUser,
    appliance_service: ApplianceServiceDep,
) -> SubscriptionRead:
    """The AVS subscription: `none` without an id; `grace` for 14 days after it expires (a
    warning alarm); `expired` after that (a critical alarm, new writes kept in bitmaps only)."""
    return await appliance_service.subscription()


@subscription_router.put("", response_model=SubscriptionRead)
async def change_subscription(
    change: SubscriptionUpdate,
    user: AdminUser,
    appliance_service: ApplianceServiceDep,
) -> SubscriptionRead:
    return await appliance_service.change_subscription(change, user)
