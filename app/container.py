"""The composition root: everything one appliance process is made of, and how it boots.

`build_container` wires the platform (database, clock, ports, secrets, fault rules, runtime
state) once, then the background workers, each given the platform they run on; the domain
reaches a worker by the type it declares (`Platform.worker`), never through this module.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from app.adapters.peer.http import HttpPeerClient
from app.adapters.vcenter.faulty import FaultInjectingVCenter
from app.adapters.vcenter.port import VCenterPort
from app.adapters.vcenter.simulated import SimulatedVCenter
from app.adapters.vcenter.topology import load_topology
from app.api.observer import RequestObserver
from app.catalog import build_registry
from app.core.clock import ClockMode, VirtualClock
from app.core.db import Reader, create_engine, create_sessionmaker
from app.core.faults import FaultRegistry
from app.core.ids import ids, start_generation
from app.core.security import SecretBox, ensure_private_dir
from app.domain.appliance.service import remember_clock
from app.domain.auth.service import AuthCache
from app.domain.auth.throttle import LoginThrottle
from app.domain.bootstrap import seed_first_boot
from app.domain.clusters.monitor import HostMonitor
from app.domain.drvas.images import DrvaImageLibrary
from app.domain.drvas.monitor import DrvaMonitor
from app.domain.platform import ApplianceStatus, Platform, RuntimeState
from app.domain.protection_domains.replication_control import REPLICATION_CONTROL
from app.domain.protection_domains.usage import ProtectionDomainUsage
from app.domain.recovery.rehydrator import ContinuousRehydration
from app.domain.replication.engine import ReplicationEngine
from app.domain.usage import DOMAIN_USAGE
from app.domain.users.credentials import CREDENTIAL_CACHE
from app.emulator.init import InitFailed
from app.migrate import run_migrations
from app.settings import Settings
from app.tasks.leadership import Leadership
from app.tasks.registry import TaskRegistry
from app.tasks.runner import TaskRunner

logger = logging.getLogger(__name__)


@dataclass
class Container:
    platform: Platform
    auth_cache: AuthCache
    registry: TaskRegistry
    runner: TaskRunner
    monitor: DrvaMonitor
    host_monitor: HostMonitor
    replication: ReplicationEngine
    rehydration: ContinuousRehydration
    leadership: Leadership
    observer: RequestObserver
    images: DrvaImageLibrary

    async def boot(self, initialize: Callable[[], Awaitable[object]] | None = None) -> None:
        """Migrate, seed, start the background work, then `initialize` (the init scenarios)
        while the status still says `starting`."""
        platform, state = self.platform, self.platform.state
        logger.debug("node %s starting on %s", state.node_id, platform.engine.dialect.name)
        try:
            state.ip_address = await asyncio.to_thread(_resolve, platform.settings.hostname)
            await asyncio.to_thread(run_migrations, platform.settings.database_url)
            self.images.start()
            async with platform.sessionmaker() as session:
                await start_generation(session, platform.settings.seed)
            await seed_first_boot(platform)
            await self.runner.start()
            await self.leadership.start()
            if initialize is not None:
                await initialize()
        except Exception as error:
            logger.exception("the appliance failed to start")
            state.status = ApplianceStatus.DEGRADED
            state.status_reason = _plain_reason(error)
            return
        state.status = ApplianceStatus.READY
        logger.info("appliance ready (site %s)", state.local_site_name)

    def _start_scheduled(self) -> None:
        self.monitor.start()
        self.host_monitor.start()
        self.replication.start()
        self.rehydration.start()

    async def _stop_scheduled(self) -> None:
        await self.rehydration.stop()
        await self.replication.stop()
        await self.host_monitor.stop()
        await self.monitor.stop()

    async def pause_background(self) -> None:
        """Stop everything that writes on its own (tasks, heartbeats, replication, continuous
        rehydration): the caller is about to replace the data underneath."""
        await self.leadership.stop()
        await self.runner.stop()

    async def resume_background(self) -> None:
        await self.runner.start()
        await self.leadership.start()

    async def shutdown(self) -> None:
        self.images.cancel()
        await self.pause_background()
        if self.platform.state.status is ApplianceStatus.READY:
            try:
                await remember_clock(self.platform)
            except Exception:
                logger.exception("could not record the virtual clock at shutdown")
        self.platform.reader.dispose()
        await self.platform.engine.dispose()


def build_container(settings: Settings) -> Container:
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
    backend: VCenterPort = (
        simulator if settings.vcenter.backend != "vsphere" else _vsphere(settings)
    )
    platform = Platform(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        reader=Reader(settings.database_url, engine),
        clock=clock,
        secrets=(
            SecretBox(settings.secret_key.get_secret_value().encode())
            if settings.secret_key is not None
            else SecretBox.from_data_dir(settings.data_dir)
        ),
        topology=topology,
        vcenter=FaultInjectingVCenter(backend, faults),
        simulator=simulator if backend is simulator else None,
        peers=HttpPeerClient(),
        faults=faults,
        state=RuntimeState(node_id=settings.node_id or _node_id(settings)),
    )
    registry = build_registry()
    runner = TaskRunner(platform, registry, settings.tasks.max_concurrency)
    replication = ReplicationEngine(platform)
    container = Container(
        platform=platform,
        auth_cache=AuthCache(
            idle_ttl=dt.timedelta(seconds=settings.auth.session_idle_ttl_seconds),
            basic_ttl=dt.timedelta(seconds=settings.auth.password_cache_seconds),
            throttle=LoginThrottle(
                user_free_attempts=settings.auth.failed_logins_per_user,
                address_free_attempts=settings.auth.failed_logins_per_address,
                max_delay_seconds=settings.auth.failed_login_max_delay_seconds,
            ),
        ),
        registry=registry,
        runner=runner,
        monitor=DrvaMonitor(sessionmaker, clock, platform.vcenter, platform.secrets),
        host_monitor=HostMonitor(sessionmaker, clock, platform.vcenter, platform.secrets),
        replication=replication,
        rehydration=ContinuousRehydration(sessionmaker, clock, platform.secrets),
        leadership=Leadership(
            sessionmaker,
            platform.state.node_id,
            settings.tasks.lease_seconds,
            lambda: container._start_scheduled(),
            lambda: container._stop_scheduled(),
        ),
        observer=RequestObserver(settings.journal_size),
        images=DrvaImageLibrary(settings.data_dir / "images"),
    )
    platform.tasks = runner
    platform.lifecycle = container
    for kind, worker in (
        (AuthCache, container.auth_cache),
        (CREDENTIAL_CACHE, container.auth_cache),
        (DOMAIN_USAGE, ProtectionDomainUsage()),
        (DrvaMonitor, container.monitor),
        (ReplicationEngine, replication),
        (REPLICATION_CONTROL, replication),
        (Leadership, container.leadership),
        (RequestObserver, container.observer),
        (DrvaImageLibrary, container.images),
    ):
        platform.provide(kind, worker)
    return container


def _vsphere(settings: Settings) -> VCenterPort:
    # Imported only when it is the backend: pyVmomi takes a while to load.
    from app.adapters.vcenter.vsphere import VSphereVCenter

    return VSphereVCenter(
        verify_tls=settings.vcenter.verify_tls,
        ca_file=str(settings.vcenter.ca_file) if settings.vcenter.ca_file else None,
        thumbprint=settings.vcenter.thumbprint,
        max_threads=settings.vcenter.max_threads,
    )


def _node_id(settings: Settings) -> str:
    """Stable across restarts of the same process (it takes its own tasks back at once),
    distinct between processes on one machine."""
    where = hashlib.sha256(str(settings.data_dir.resolve()).encode()).hexdigest()[:6]
    return f"{socket.gethostname()[:40]}:{settings.port}:{where}"


def _plain_reason(error: Exception) -> str:
    """What the unauthenticated status may say of a failed start: the kind of failure, never
    the database's own text (SQL, paths, driver messages); the log has the whole error."""
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
