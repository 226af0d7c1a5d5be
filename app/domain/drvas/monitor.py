"""DRVA heartbeats: on the virtual clock, each deployed DRVA's VM is checked in vCenter. A DRVA
whose VM stopped or vanished is `stopped` / `failed` and raises a `drva_down` alarm; one whose
vCenter cannot be asked is `degraded`. A DRVA that answers again clears the alarm."""

from __future__ import annotations

import asyncio
import logging

from app.adapters.vcenter.errors import VCenterError, VCenterNotFound
from app.adapters.vcenter.port import VCenterPort
from app.core.clock import VirtualClock
from app.core.db import SessionMaker
from app.core.security import SecretBox
from app.domain.alarms.service import AlarmType, clear_alarm, raise_alarm
from app.domain.drvas import repository
from app.domain.drvas.models import Drva
from app.domain.drvas.states import DrvaStatus
from app.domain.inventory import repository as inventory
from app.domain.inventory.models import Cluster
from app.domain.vcenters.heartbeat import VCenterHeartbeat
from app.domain.vcenters.models import VCenter
from app.domain.vcenters.service import endpoint_of

logger = logging.getLogger(__name__)

WATCHED = {DrvaStatus.RUNNING.value, DrvaStatus.DEGRADED.value, DrvaStatus.STOPPED.value}


class DrvaMonitor(VCenterHeartbeat):
    name = "drva-monitor"

    def __init__(
        self,
        sessionmaker: SessionMaker,
        clock: VirtualClock,
        vcenter: VCenterPort,
        secrets: SecretBox,
    ) -> None:
        super().__init__(sessionmaker, clock, vcenter, secrets)
        # A fault (`drva_crash`) asks for a check of its own; it waits for the heartbeat's.
        self._checking = asyncio.Lock()

    async def check(self) -> None:
        async with self._checking:
            await self._check()

    async def _check(self) -> None:
        async with self._sessionmaker() as session:
            drvas = [
                d
                for d in await repository.all_(session)
                if d.status in WATCHED and d.active_task_id is None and d.vm_moref
            ]
            clusters = {
                d.cluster_id: await inventory.get(session, Cluster, d.cluster_id) for d in drvas
            }
            vcenters = {
                c.vcenter_id: await session.get(VCenter, c.vcenter_id)
                for c in clusters.values()
                if c is not None
            }
        for vcenter_id, vcenter in vcenters.items():
            if vcenter is None:
                continue
            mine = [
                d for d in drvas if (c := clusters[d.cluster_id]) and c.vcenter_id == vcenter_id
            ]
            states = await self._power_states(vcenter, mine)
            await self._record(mine, states)

    async def _power_states(self, vcenter: VCenter, drvas: list[Drva]) -> dict[str, str | None]:
        """VM power state per DRVA id; None when the VM is gone, `unknown` when vCenter is."""
        endpoint = endpoint_of(self._secrets, vcenter)
        try:
            vc = await self._vcenter.connect(endpoint)
        except VCenterError:
            return {d.id: "unknown" for d in drvas}
        states: dict[str, str | None] = {}
        try:
            for drva in drvas:
                assert drva.vm_moref is not None
                try:
                    states[drva.id] = (await vc.get_vm(drva.vm_moref)).power_state
                except VCenterNotFound:
                    states[drva.id] = None
                except VCenterError:
                    states[drva.id] = "unknown"
        finally:
            await vc.logout()
        return states

    async def _record(self, drvas: list[Drva], states: dict[str, str | None]) -> None:
        now = self._clock.now()
        async with self._sessionmaker() as session:
            for stale in drvas:
                drva = await repository.get(session, stale.id)
                if drva is None or drva.active_task_id is not None or drva.status not in WATCHED:
                    continue
                if (drva.status, drva.updated_at) != (stale.status, stale.updated_at):
                    # A task (a restart) changed the DRVA while its VM was being looked at:
                    # that look is older than the task's outcome and must not undo it.
                    continue
                entity = ("drva", drva.id, drva.name)
                state = states.get(drva.id, "unknown")
                if state == "poweredOn":
                    drva.status = DrvaStatus.RUNNING.value
                    drva.last_heartbeat_at = now
                    await clear_alarm(
                        session, alarm_type=AlarmType.DRVA_DOWN, entity_id=drva.id, at=now
                    )
                    continue
                if state == "unknown":
                    drva.status = DrvaStatus.DEGRADED.value
                    reason = "vCenter cannot be asked about its VM"
                elif state is None:
                    drva.status = DrvaStatus.FAILED.value
                    reason = "its VM no longer exists"
                else:
                    drva.status = DrvaStatus.STOPPED.value
                    reason = f"its VM is {state}"
                await raise_alarm(
                    session,
                    alarm_type=AlarmType.DRVA_DOWN,
                    entity=entity,
                    message=f"DRVA {drva.name} does not answer: {reason}",
                    at=now,
                )
            await session.commit()
