"""A heartbeat: a check against vCenter that runs on the virtual clock (the DRVAs' VMs, the
ESXi hosts), at most once per `minimum_real_interval` of real time however fast the clock."""

from __future__ import annotations

from abc import ABC, abstractmethod

from app.adapters.vcenter.port import VCenterPort
from app.core.clock import VirtualClock
from app.core.db import SessionMaker
from app.core.periodic import Periodic
from app.core.security import SecretBox

HEARTBEAT_SECONDS = 30.0
MINIMUM_REAL_INTERVAL = 0.25


class VCenterHeartbeat(ABC):
    """Subclasses name themselves (`name`, the task's) and say what one beat checks."""

    name: str

    def __init__(
        self,
        sessionmaker: SessionMaker,
        clock: VirtualClock,
        vcenter: VCenterPort,
        secrets: SecretBox,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._vcenter = vcenter
        self._secrets = secrets
        self._loop = Periodic(
            self.name, clock, HEARTBEAT_SECONDS, self.check, MINIMUM_REAL_INTERVAL
        )

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    @abstractmethod
    async def check(self) -> None: ...
