"""`create_app()`: the composition root of the HTTP service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.middleware import Middleware

from app import __version__
from app.api.cors import VCenterCorsMiddleware
from app.api.docs import router as docs_router
from app.api.errors import install_error_handlers
from app.api.guard import RequestGuardMiddleware
from app.api.middleware import IdempotencyMiddleware, RequestContextMiddleware
from app.api.openapi import install_openapi
from app.container import Container, build_container
from app.domain.plugin.routes import router as plugin_router
from app.emulator.init import apply_init_dir
from app.emulator.routes import router as emulator_router
from app.metrics.routes import router as metrics_router
from app.routes import build_api_router
from app.settings import Settings
from app.ui.routes import router as ui_router

DESCRIPTION = (
    "An emulator of the JetStream DR Management Server Appliance REST API. The API is a "
    "reconstruction of the product's documented behaviour, not a copy of a published "
    "specification (none is public)."
)


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    settings = settings or Settings()
    emulator = FastAPI(
        title="jetdr-msa emulator control plane",
        version=__version__,
        description="Controls for tests and demos; not part of the emulated product.",
        # Served by `emulator_router` itself, to admins only.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(emulator)
    install_openapi(emulator)
    emulator.include_router(emulator_router)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = container or build_container(settings)
        app.state.container = built
        app.state.platform = emulator.state.platform = built.platform
        boot = asyncio.create_task(
            built.boot(lambda: apply_init_dir(app, built.platform)), name="boot"
        )
        try:
            yield
        finally:
            if not boot.done():
                boot.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await boot
            await built.shutdown()

    app = FastAPI(
        title="JetStream DR MSA (emulator)",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served by `docs_router`, with their assets from the package (no CDN).
        docs_url=None,
        redoc_url=None,
        middleware=[
            Middleware(VCenterCorsMiddleware),
            Middleware(RequestContextMiddleware),
            Middleware(RequestGuardMiddleware),
            Middleware(IdempotencyMiddleware),
        ],
    )
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(build_api_router())
    app.include_router(plugin_router)
    app.include_router(metrics_router)
    app.include_router(ui_router)
    app.include_router(docs_router)
    if settings.emulator.enabled:
        app.mount("/_emulator", emulator)
    return app
