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
    RunbookGroup,
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
        spec = row.spec if row else {}
        return RunbookRead(
            id=runbook_id(domain_id),
            domain_id=domain_id,
            order=int(spec.get("order", 0)),
            vms=[RunbookVm.model_validate(vm) for vm in spec.get("vms", [])],
            groups=[RunbookGroup.model_validate(group) for group in spec.get("groups", [])],
            updated_at=row.updated_at if row else None,
        )

    async def put_runbook(
        self, domain_id: str, spec: RunbookUpdate, actor: Principal
    ) -> RunbookRead:
        domain = await repository.domain_or_404(self.session, domain_id)
        problems = await self._problems(domain_id, spec)
        if problems:
            raise ValidationFailed(
                "invalid runbook: " + "; ".join(p.message for p in problems),
                field_errors=problems,
            )
        now = self.platform.clock.now()
        row = await repository.runbook(self.session, domain_id)
        body = spec.model_dump(mode="json")
        if row is None:
            self.session.add(Runbook(domain_id=domain_id, spec=body, updated_at=now))
        else:
            row.spec = body
            row.updated_at = now
        grouped = sum(len(group.vms) for group in spec.groups)
        events.record(
            self.session,
            at=now,
            actor=actor.username,
            action="protection_domain.runbook_updated",
            message=f"runbook of protection domain {domain.name}: {len(spec.vms)} independent "
            f"VM entries, {len(spec.groups)} groups of {grouped} VMs",
            entity=("protection_domain", domain.id, domain.name),
        )
        await self.session.commit()
        return await self.runbook(domain_id)

    async def _problems(self, domain_id: str, spec: RunbookUpdate) -> list[FieldError]:
        """Every VM of the domain at most once (independent or in one group), networks of this
        site, group names and each group's script names unique."""
        vms = await repository.domain_vms(self.session, domain_id)
        # One VM may be named by its replica key or its name: both lead to the same key.
        key_of = {vm.replica_key: vm.replica_key for vm in vms} | {
            vm.name: vm.replica_key for vm in vms
        }
        problems: list[FieldError] = []
        seen: set[str] = set()
        entries = [(f"vms[{i}]", entry) for i, entry in enumerate(spec.vms)]
        groups_seen: set[str] = set()
        for g, group in enumerate(spec.groups):
            where = f"groups[{g}]"
            if group.name in groups_seen:
                problems.append(FieldError(f"{where}.name", f"group {group.name} is listed twice"))
            groups_seen.add(group.name)
            names = [script.name for script in group.scripts]
            for s, name in enumerate(names):
                if names.index(name) != s:
                    problems.append(
                        FieldError(f"{where}.scripts[{s}].name", f"script {name} is listed twice")
                    )
            entries += [(f"{where}.vms[{i}]", entry) for i, entry in enumerate(group.vms)]
        for where, entry in entries:
            key = key_of.get(entry.vm)
            if key is None:
                problems.append(FieldError(f"{where}.vm", f"{entry.vm} is not in the domain"))
            elif key in seen:
                problems.append(FieldError(f"{where}.vm", f"{entry.vm} is listed twice"))
            else:
                seen.add(key)
            if entry.network_id is not None and not await self.session.get(
                Network, entry.network_id
            ):
                problems.append(FieldError(f"{where}.network_id", "no such network"))
            for n, mapping in enumerate(entry.networks):
                if not await self.session.get(Network, mapping.target):
                    problems.append(FieldError(f"{where}.networks[{n}].target", "no such network"))
        return problems
