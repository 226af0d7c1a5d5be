"""The composition root: everything one appliance process is made of, and how it boots."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.peer.http import HttpPeerClient
from app.adapters.peer.port import PeerPort
from app.adapters.vcenter.port import VCenterPort
from app.adapters.vcenter.simulated import SimulatedVCenter
from app.adapters.vcenter.topology import Topology, load_topology
from app.core.clock import ClockMode, VirtualClock
from app.core.db import SessionMaker, create_engine, create_sessionmaker, run_migrations
from app.core.ids import ids, start_generation
from app.core.leadership import Leadership
from app.core.security import SecretBox, ensure_private_dir
from app.domain.auth.service import AuthCache
from app.domain.auth.throttle import LoginThrottle
from app.domain.drvas.images import DrvaImage, ensure_images
from app.core.faults import FaultRegistry
from app.adapters.vcenter.faulty import FaultInjectingVCenter
from app.metrics.requests import RequestObserver
from app.settings import Settings
from app.tasks.registry import TaskRegistry
from app.tasks.runner import TaskRunner

if TYPE_CHECKING:
    from app.domain.drvas.monitor import DrvaMonitor
    from app.domain.recovery.rehydrator import ContinuousRehydration
    from app.domain.replication.engine import ReplicationEngine

logger = logging.getLogger(__name__)


class ApplianceStatus(StrEnum):
    STARTING = "starting"
    READY = "ready"
    DEGRADED = "degraded"


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: SessionMaker
    clock: VirtualClock
    secrets: SecretBox
    topology: Topology
    vcenter: VCenterPort
    # The simulated vCenter when it is the backend (emulator controls and tests use it).
    simulator: SimulatedVCenter | None
    auth_cache: AuthCache
    registry: TaskRegistry
    runner: TaskRunner = field(init=False)
    monitor: DrvaMonitor = field(init=False)
    replication: ReplicationEngine = field(init=False)
    rehydration: ContinuousRehydration = field(init=False)
    leadership: Leadership = field(init=False)
    status: ApplianceStatus = ApplianceStatus.STARTING
    status_reason: str | None = None
    started_monotonic: float = field(default_factory=time.monotonic)
    # This process among those sharing the database (task leases, the scheduler lease).
    node_id: str = "local"
    # This run of the process: a restart is a new incarnation of the same node.
    incarnation: str = field(default_factory=lambda: secrets.token_hex(4))
    # (user id, Idempotency-Key) of the requests this process is answering now.
    idempotency_in_flight: set[tuple[str, str]] = field(default_factory=set)
    local_site_id: str | None = None
    local_site_name: str | None = None
    ip_address: str = "127.0.0.1"
    # Browser origins allowed by CORS: those of the registered vCenter.
    cors_origins: frozenset[str] = frozenset()
    faults: FaultRegistry = field(default_factory=FaultRegistry)
    peers: PeerPort = field(default_factory=HttpPeerClient)
    inventory_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    observer: RequestObserver = field(init=False)
    _drva_images: asyncio.Task[list[DrvaImage]] | None = None

    def __post_init__(self) -> None:
        from app.domain.drvas.monitor import DrvaMonitor
        from app.domain.recovery.rehydrator import ContinuousRehydration
        from app.domain.replication.engine import ReplicationEngine

        self.runner = TaskRunner(self, self.registry, self.settings.tasks.max_concurrency)
        self.monitor = DrvaMonitor(self)
        self.replication = ReplicationEngine(self)
        self.rehydration = ContinuousRehydration(self)
        self.observer = RequestObserver(self.settings.journal_size)
        self.leadership = Leadership(
            self.sessionmaker,
            self.node_id,
            self.settings.tasks.lease_seconds,
            self._start_scheduled,
            self._stop_scheduled,
        )

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_monotonic

    async def boot(self, initialize: Callable[[], Awaitable[object]] | None = None) -> None:
        """Migrate, seed, start the background work, then `initialize` (the init scenarios)
        while the status still says `starting`."""
        from app.bootstrap import seed_first_boot

        logger.debug("node %s starting on %s", self.node_id, self.engine.dialect.name)
        try:
            self.ip_address = await asyncio.to_thread(_resolve, self.settings.hostname)
            await asyncio.to_thread(run_migrations, self.settings.database_url)
            # Building the DRVA ISO is a first-boot cost that nothing at start-up waits for.
            self._drva_images = asyncio.create_task(
                asyncio.to_thread(ensure_images, self.settings.data_dir / "images"),
                name="drva-images",
            )
            async with self.sessionmaker() as session:
                await start_generation(session, self.settings.seed)
            await seed_first_boot(self)
            await self.runner.start()
            await self.leadership.start()
            if initialize is not None:
                await initialize()
        except Exception as error:
            logger.exception("the appliance failed to start")
            self.status = ApplianceStatus.DEGRADED
            self.status_reason = _plain_reason(error)
            return
        self.status = ApplianceStatus.READY
        logger.info("appliance ready (site %s)", self.local_site_name)

    def _start_scheduled(self) -> None:
        self.monitor.start()
        self.replication.start()
        self.rehydration.start()

    async def _stop_scheduled(self) -> None:
        await self.rehydration.stop()
        await self.replication.stop()
        await self.monitor.stop()

    async def pause_background(self) -> None:
        """Stop everything that writes on its own (tasks, heartbeats, replication, continuous
        rehydration): the caller is about to replace the data underneath."""
        await self.leadership.stop()
        await self.runner.stop()

    async def resume_background(self) -> None:
        await self.runner.start()
        await self.leadership.start()

    async def drva_images(self) -> list[DrvaImage]:
        if self._drva_images is None:
            return []
        try:
            return await asyncio.shield(self._drva_images)
        except Exception:
            logger.exception("building the DRVA images failed")
            return []

    async def shutdown(self) -> None:
        if self._drva_images is not None and not self._drva_images.done():
            self._drva_images.cancel()
        await self.pause_background()
        if self.status is ApplianceStatus.READY:
            from app.bootstrap import remember_clock

            try:
                await remember_clock(self)
            except Exception:
                logger.exception("could not record the virtual clock at shutdown")
        await self.engine.dispose()


def build_container(settings: Settings) -> Container:
    from app.tasks.catalog import build_registry

    ensure_private_dir(settings.data_dir)
    ids.reseed(settings.seed)
    engine = create_engine(
        settings.database_url, echo=settings.db.echo, pool_size=settings.db.pool_size
    )
    sessionmaker = create_sessionmaker(engine)
    clock = VirtualClock(ClockMode(settings.clock.mode), settings.clock.scale)
    topology = load_topology(settings.topology)
    simulator = SimulatedVCenter(sessionmaker, topology, clock)
    faults = FaultRegistry()
    backend: VCenterPort = simulator
    if settings.vcenter.backend == "vsphere":
        from app.adapters.vcenter.vsphere import VSphereVCenter

        backend = VSphereVCenter(
            verify_tls=settings.vcenter.verify_tls,
            ca_file=str(settings.vcenter.ca_file) if settings.vcenter.ca_file else None,
            thumbprint=settings.vcenter.thumbprint,
            max_threads=settings.vcenter.max_threads,
        )
    container = Container(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        clock=clock,
        secrets=(
            SecretBox(settings.secret_key.get_secret_value().encode())
            if settings.secret_key is not None
            else SecretBox.from_data_dir(settings.data_dir)
        ),
        topology=topology,
        vcenter=FaultInjectingVCenter(backend, faults),
        simulator=simulator if backend is simulator else None,
        auth_cache=AuthCache(
            idle_ttl=dt.timedelta(seconds=settings.auth.session_idle_ttl_seconds),
            basic_ttl=dt.timedelta(seconds=settings.auth.password_cache_seconds),
            throttle=LoginThrottle(
                user_free_attempts=settings.auth.failed_logins_per_user,
                address_free_attempts=settings.auth.failed_logins_per_address,
                max_delay_seconds=settings.auth.failed_login_max_delay_seconds,
            ),
        ),
        registry=build_registry(),
        faults=faults,
        node_id=settings.node_id or _node_id(settings),
    )
    return container


def _node_id(settings: Settings) -> str:
    """Stable across restarts of the same process (it takes its own tasks back at once),
    distinct between processes on one machine."""
    where = hashlib.sha256(str(settings.data_dir.resolve()).encode()).hexdigest()[:6]
    return f"{socket.gethostname()[:40]}:{settings.port}:{where}"


def _plain_reason(error: Exception) -> str:
    """What the unauthenticated status may say of a failed start: the kind of failure, never
    the database's own text (SQL, paths, driver messages); the log has the whole error."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.emulator.init import InitFailed

    if isinstance(error, InitFailed):  # written for the user: the file, the step, the answer
        return f"start-up failed: {error}"
    if isinstance(error, SQLAlchemyError):
        return "start-up failed: the database cannot be used (the appliance log says why)"
    return f"start-up failed: {type(error).__name__} (the appliance log says why)"


def _resolve(hostname: str) -> str:
    try:
        return socket.gethostbyname(hostname)
    except OSError:
        return "127.0.0.1"
