"""What every domain service and worker stands on: the database, the clock, the vCenter and peer
ports, secrets, settings, fault rules, and the process's runtime state.

The composition root (`app.container`) builds one `Platform` per process and sets its wiring
once (`tasks` and `lifecycle` just after the workers they name); only `state` changes while the
process runs. The background workers (task
runner, replication engine, DRVA monitor, continuous rehydration) sit above the packages that
use them, so those packages reach them by the type they declare (`worker`), never by importing
the composition root.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.peer.port import PeerPort
from app.adapters.vcenter.port import VCenterPort
from app.adapters.vcenter.simulated import SimulatedVCenter
from app.adapters.vcenter.topology import Topology
from app.core.clock import VirtualClock
from app.core.db import Reader, SessionMaker
from app.core.faults import FaultRegistry
from app.core.security import SecretBox
from app.settings import Settings

W = TypeVar("W")


class WorkerKey(Generic[W]):
    """Names a worker by a Protocol it satisfies (a Protocol cannot be looked up as a type)."""

    def __init__(self, name: str) -> None:
        self.__name__ = name


class ApplianceStatus(StrEnum):
    STARTING = "starting"
    READY = "ready"
    DEGRADED = "degraded"


@dataclass
class RuntimeState:
    """What changes while the process runs."""

    # This process among those sharing the database (task leases, the scheduler lease).
    node_id: str = "local"
    # This run of the process: a restart is a new incarnation of the same node.
    incarnation: str = field(default_factory=lambda: secrets.token_hex(4))
    status: ApplianceStatus = ApplianceStatus.STARTING
    status_reason: str | None = None
    started_monotonic: float = field(default_factory=time.monotonic)
    local_site_id: str | None = None
    local_site_name: str | None = None
    ip_address: str = "127.0.0.1"
    # Browser origins allowed by CORS: those of the registered vCenter.
    cors_origins: frozenset[str] = frozenset()
    # (user id, Idempotency-Key) of the requests this process is answering now.
    idempotency_in_flight: set[tuple[str, str]] = field(default_factory=set)

    @property
    def local_site(self) -> str:
        """The local site's id (read at boot, before anything can ask)."""
        assert self.local_site_id is not None, "the local site is read at boot"
        return self.local_site_id

    @property
    def local_site_label(self) -> str:
        """How the local site is shown: its name (a label that may change), else its id."""
        return self.local_site_name or self.local_site

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_monotonic


class TaskShape(Protocol):
    @property
    def step_names(self) -> list[str]: ...

    @property
    def cancellable(self) -> bool: ...


class TaskQueue(Protocol):
    """The task runner as a service sees it: the task types it knows, and a nudge."""

    def definition(self, task_type: str) -> TaskShape | None: ...

    def wake(self) -> None: ...

    def request_cancel(self, task_id: str) -> None: ...


class Lifecycle(Protocol):
    """What the emulator's controls ask of the process (reset, state load)."""

    async def pause_background(self) -> None: ...

    async def resume_background(self) -> None: ...


@dataclass(eq=False)
class Platform:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: SessionMaker
    # Short reads without a thread hand-off (the read paths a client polls).
    reader: Reader
    clock: VirtualClock
    secrets: SecretBox
    topology: Topology
    vcenter: VCenterPort
    # The simulated vCenter when it is the backend (emulator controls and tests use it).
    simulator: SimulatedVCenter | None
    peers: PeerPort
    faults: FaultRegistry
    state: RuntimeState
    tasks: TaskQueue = field(init=False)
    lifecycle: Lifecycle = field(init=False)
    # Inventory syncs of one process run one at a time (they replace whole tables).
    inventory_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _workers: dict[Any, object] = field(default_factory=dict)

    def provide(self, kind: Any, worker: object) -> None:
        """Makes `worker` what `worker(kind)` answers (the composition root calls this)."""
        self._workers[kind] = worker

    def worker(self, kind: type[W] | WorkerKey[W]) -> W:
        """The worker this process runs for `kind` (its class, or a key naming a Protocol)."""
        try:
            return cast(W, self._workers[kind])
        except KeyError:
            raise LookupError(f"no {kind.__name__} runs in this process") from None
