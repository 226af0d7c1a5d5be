"""`/ui/`: the appliance's dashboard (the vSphere plugin's view points here). The page and its
script are static and public, like a login page: they hold no data. The page logs in through
`POST /api/v1/session` and everything it shows comes from the REST API with that session."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from app.core.errors import NotFound

router = APIRouter(tags=["ui"])
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}


def _asset(name: str) -> bytes:
    return resources.files("app.ui").joinpath("static", name).read_bytes()


@router.get("/ui", include_in_schema=False)
async def ui_redirect() -> RedirectResponse:
    return RedirectResponse("/ui/")


@router.get("/ui/", response_class=Response)
async def dashboard() -> Response:
    """The dashboard: sites, vCenter, clusters and their hosts' IO filter state, DRVAs,
    protection domains with RPO and health, live task progress, active alarms."""
    return Response(_asset("index.html"), media_type=ASSETS["index.html"])


@router.get("/ui/{name}", response_class=Response, include_in_schema=False)
async def asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound(f"/ui/{name} does not exist")
    return Response(_asset(name), media_type=ASSETS[name], headers={"cache-control": "no-cache"})
