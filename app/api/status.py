"""Public endpoints: readiness and product identity."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app import PRODUCT_BUILD, PRODUCT_VERSION, __version__
from app.api.deps import PlatformDep
from app.core.schemas import ApiModel

router = APIRouter(tags=["appliance"])


class SiteSummary(ApiModel):
    id: str | None
    name: str | None


class StatusRead(ApiModel):
    status: Literal["starting", "ready", "degraded"]
    version: str
    site: SiteSummary
    uptime_seconds: float
    reason: str | None = None


class AboutRead(ApiModel):
    product: str
    version: str
    build: str
    api_versions: list[str]
    emulator: bool
    emulator_version: str


@router.get(
    "/status",
    response_model=StatusRead,
    responses={503: {"model": StatusRead, "description": "starting, or start-up failed"}},
)
async def get_status(platform: PlatformDep) -> JSONResponse:
    body = StatusRead(
        status=platform.state.status.value,
        version=PRODUCT_VERSION,
        site=SiteSummary(id=platform.state.local_site_id, name=platform.state.local_site_name),
        uptime_seconds=round(platform.state.uptime_seconds, 3),
        reason=platform.state.status_reason,
    )
    return JSONResponse(
        body.model_dump(mode="json"), status_code=200 if body.status == "ready" else 503
    )


@router.get("/about", response_model=AboutRead)
async def get_about() -> AboutRead:
    return AboutRead(
        product="JetStream DR Management Server Appliance",
        version=PRODUCT_VERSION,
        build=PRODUCT_BUILD,
        api_versions=["v1"],
        emulator=True,
        emulator_version=__version__,
    )
