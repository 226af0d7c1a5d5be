"""Static artifacts vCenter and ESXi fetch without appliance credentials: the plugin manifest
and the IO-filter VIB. They carry no secrets."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from app.api.deps import PlatformDep
from app.core.errors import NotFound
from app.domain.plugin.package import (
    IOFILTER_VERSION,
    appliance_url,
    build_vib,
    plugin_manifest,
    vib_file_name,
)

router = APIRouter(tags=["plugin"])


@router.get("/plugin/plugin.json")
async def get_plugin_manifest(platform: PlatformDep) -> JSONResponse:
    base = appliance_url(platform.settings.hostname, platform.settings.port)
    return JSONResponse(plugin_manifest(base))


@router.get("/iofilter/{file_name}", response_class=Response)
async def download_vib(file_name: str) -> Response:
    if file_name != vib_file_name():
        raise NotFound(f"no IO-filter package {file_name}; this appliance serves {vib_file_name()}")
    return Response(
        build_vib(IOFILTER_VERSION),
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{file_name}"'},
    )
