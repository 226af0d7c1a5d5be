from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import AdminUser, CurrentUser, PlatformDep, SessionDep
from app.domain.recovery_settings import service
from app.domain.recovery_settings.schemas import RecoverySettingsRead, RecoverySettingsUpdate

router = APIRouter(prefix="/recovery-settings", tags=["recovery settings"])


@router.get("", response_model=RecoverySettingsRead)
async def get_recovery_settings(_user: CurrentUser, session: SessionDep) -> RecoverySettingsRead:
    return service.to_read(await service.current(session))


@router.put("", response_model=RecoverySettingsRead)
async def put_recovery_settings(
    change: RecoverySettingsUpdate, admin: AdminUser, session: SessionDep, platform: PlatformDep
) -> RecoverySettingsRead:
    """RocVA placement: a cluster, a datastore attached to it and a network with DHCP."""
    return service.to_read(await service.replace(session, platform, change, admin))
