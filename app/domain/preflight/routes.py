from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import OperatorUser, PlatformDep, SessionDep
from app.domain.preflight.schemas import ClusterPreflight, InstallPreflight, PreflightResult
from app.domain.preflight.service import PreflightService

router = APIRouter(prefix="/preflight", tags=["preflight"])


@router.post("/install", response_model=PreflightResult)
async def preflight_install(
    spec: InstallPreflight, _user: OperatorUser, session: SessionDep, platform: PlatformDep
) -> PreflightResult:
    """What Invoke-PreflightJetDRInstall checks; nothing is changed."""
    return await PreflightService(session, platform).install(spec)


@router.post("/uninstall", response_model=PreflightResult)
async def preflight_uninstall(
    spec: ClusterPreflight, _user: OperatorUser, session: SessionDep, platform: PlatformDep
) -> PreflightResult:
    return await PreflightService(session, platform).uninstall(spec.protected_cluster)


@router.post("/enable-cluster", response_model=PreflightResult)
async def preflight_enable_cluster(
    spec: ClusterPreflight, _user: OperatorUser, session: SessionDep, platform: PlatformDep
) -> PreflightResult:
    return await PreflightService(session, platform).enable_cluster(spec.protected_cluster)
