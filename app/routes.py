"""Assembles every resource router under `/api/v1`."""

from __future__ import annotations

from fastapi import APIRouter

from app.api import status
from app.domain.alarms import routes as alarms
from app.domain.appliance import routes as appliance
from app.domain.auth import routes as auth
from app.domain.avs import routes as avs
from app.domain.clusters import routes as clusters
from app.domain.drvas import routes as drvas
from app.domain.events import routes as events
from app.domain.inventory import routes as inventory
from app.domain.preflight import routes as preflight
from app.domain.protection_domains import routes as protection_domains
from app.domain.recovery import routes as recovery
from app.domain.recovery_settings import routes as recovery_settings
from app.domain.sites import routes as sites
from app.domain.storage_sites import routes as storage_sites
from app.domain.users import routes as users
from app.domain.vcenters import routes as vcenters
from app.tasks import routes as tasks

ERROR_RESPONSES: dict[int | str, dict[str, str]] = {
    401: {"description": "not authenticated"},
    403: {"description": "authenticated but not allowed"},
    422: {"description": "invalid request"},
}


def build_api_router() -> APIRouter:
    api = APIRouter(prefix="/api/v1")
    api.include_router(status.router)
    for module in (
        auth,
        users,
        appliance,
        sites,
        vcenters,
        inventory,
        clusters,
        drvas,
        storage_sites,
        protection_domains,
        recovery,
        recovery_settings,
        preflight,
        tasks,
        alarms,
        events,
        avs,
    ):
        api.include_router(module.router, responses=ERROR_RESPONSES)
    api.include_router(clusters.hosts_router, responses=ERROR_RESPONSES)
    api.include_router(appliance.subscription_router, responses=ERROR_RESPONSES)
    api.include_router(avs.appliance_router, responses=ERROR_RESPONSES)
    return api
