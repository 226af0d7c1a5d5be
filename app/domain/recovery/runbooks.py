"""Runbooks: how a domain's VMs come up at the recovery site (order, delays, sizes, networks,
addresses)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import (
    FieldError,
    ValidationFailed,
)
from app.core.principal import Principal
from app.domain.events import service as events
from app.domain.inventory.models import Network
from app.domain.platform import Platform
from app.domain.recovery import repository
from app.domain.recovery.models import Runbook
from app.domain.recovery.schemas import (
    RunbookRead,
    RunbookUpdate,
    RunbookVm,
)


def runbook_id(domain_id: str) -> str:
    return f"rb-{domain_id}"


class RunbookService:
    def __init__(self, session: AsyncSession, platform: Platform) -> None:
        self.session = session
        self.platform = platform

    async def runbook(self, domain_id: str) -> RunbookRead:
        await repository.domain_or_404(self.session, domain_id)
        row = await repository.runbook(self.session, domain_id)
        return RunbookRead(
            id=runbook_id(domain_id),
            domain_id=domain_id,
            vms=[RunbookVm.model_validate(vm) for vm in (row.spec if row else {}).get("vms", [])],
            updated_at=row.updated_at if row else None,
        )

    async def put_runbook(
        self, domain_id: str, spec: RunbookUpdate, actor: Principal
    ) -> RunbookRead:
        domain = await repository.domain_or_404(self.session, domain_id)
        vms = await repository.domain_vms(self.session, domain_id)
        known = {vm.replica_key for vm in vms} | {vm.name for vm in vms}
        problems = []
        seen: set[str] = set()
        for index, entry in enumerate(spec.vms):
            if entry.vm not in known:
                problems.append(FieldError(f"vms[{index}].vm", f"{entry.vm} is not in the domain"))
            if entry.vm in seen:
                problems.append(FieldError(f"vms[{index}].vm", f"{entry.vm} is listed twice"))
            seen.add(entry.vm)
            if entry.network_id is not None and not await self.session.get(
                Network, entry.network_id
            ):
                problems.append(FieldError(f"vms[{index}].network_id", "no such network"))
            if entry.ip is not None and entry.ip.mode == "static" and not entry.ip.address:
                problems.append(FieldError(f"vms[{index}].ip.address", "required when static"))
        if problems:
            raise ValidationFailed(
                "invalid runbook: " + "; ".join(p.message for p in problems),
                field_errors=problems,
            )
        now = self.platform.clock.now()
        row = await repository.runbook(self.session, domain_id)
        body = {"vms": [entry.model_dump() for entry in spec.vms]}
        if row is None:
            self.session.add(Runbook(domain_id=domain_id, spec=body, updated_at=now))
        else:
            row.spec = body
            row.updated_at = now
        events.record(
            self.session,
            at=now,
            actor=actor.username,
            action="protection_domain.runbook_updated",
            message=f"runbook of protection domain {domain.name}: {len(spec.vms)} VM entries",
            entity=("protection_domain", domain.id, domain.name),
        )
        await self.session.commit()
        return await self.runbook(domain_id)
