from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from app.api.deps import OperatorUser, provide
from app.domain.preflight.schemas import ClusterPreflight, InstallPreflight, PreflightResult
from app.domain.preflight.service import PreflightService

router = APIRouter(prefix="/preflight", tags=["preflight"])
PreflightServiceDep = Annotated[PreflightService, provide(PreflightService)]


@router.post("/install", response_model=PreflightResult)
async def preflight_install(
    spec: InstallPreflight,
    _user: OperatorUser,
    preflight_service: PreflightServiceDep,
) -> PreflightResult:
    """What Invoke-PreflightJetDRInstall checks; nothing is changed."""
    return await preflight_service.install(spec)


@router.post("/uninstall", response_model=PreflightResult)
async def preflight_uninstall(
    spec: ClusterPreflight,
    _user: OperatorUser,
    preflight_service: PreflightServiceDep,
) -> PreflightResult:
    return await preflight_service.uninstall(spec.protected_cluster)


@router.post("/enable-cluster", response_model=PreflightResult)
async def preflight_enable_cluster(
    spec: ClusterPreflight,
    _user: OperatorUser,
    preflight_service: PreflightServiceDep,
) -> PreflightResult:
    return await preflight_service.enable_cluster(spec.protected_cluster)
