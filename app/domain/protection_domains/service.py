"""Protection domains: a group of VMs protected and recovered together, with one DRVA, one
replication log and one container on a storage site."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.container import Container
from app.core.errors import Conflict, FieldError, InvalidState, NotFound, ValidationFailed
from app.core.ids import new_id
from app.core.schemas import EntityRef
from app.domain.auth.service import Principal
from app.domain.drvas.models import Drva, ReplicationLogVolume
from app.domain.drvas.states import DrvaStatus, VolumeStatus
from app.domain.events import service as events
from app.domain.protection_domains.models import ProtectionDomain
from app.domain.protection_domains.schemas import DomainCreate, DomainRead, DomainUpdate, PitrRead
from app.domain.storage_sites.models import StorageSite
from app.tasks.models import Task
from app.tasks.service import enqueue, start_guarded


def to_read(domain: ProtectionDomain) -> DomainRead:
    return DomainRead(
        id=domain.id,
        name=domain.name,
        status=domain.status,
        mode=domain.mode,
        health=domain.health,
        primary_site=domain.primary_site,
        recovery_site=domain.recovery_site,
        owner_site=domain.owner_site,
        replication_enabled=domain.replication_enabled,
        rpo_seconds=None,
        rpo_target_seconds=domain.rpo_target_seconds,
        priority=domain.priority,
        vms=0,
        storage_site_id=domain.storage_site_id,
        drva_id=domain.drva_id,
        replication_log_volume_id=domain.replication_log_volume_id,
        container=domain.container,
        pitr=PitrRead(enabled=domain.pitr_enabled, window_days=domain.pitr_window_days),
        active_task_id=domain.active_task_id,
        created_at=domain.created_at,
    )


class DomainService:
    def __init__(self, session: AsyncSession, container: Container) -> None:
        self.session = session
        self.container = container

    async def all(self) -> list[ProtectionDomain]:
        rows = await self.session.scalars(select(ProtectionDomain).order_by(ProtectionDomain.name))
        return list(rows.all())

    async def get(self, domain_id: str) -> ProtectionDomain:
        domain = await self.session.get(ProtectionDomain, domain_id)
        if domain is None:
            raise NotFound(f"protection domain {domain_id} does not exist")
        return domain

    async def create(self, spec: DomainCreate, actor: Principal) -> Task:
        site = await self.session.get(StorageSite, spec.storage_site_id)
        drva = await self.session.get(Drva, spec.drva_id)
        volume = await self.session.get(ReplicationLogVolume, spec.replication_log_volume_id)
        problems = []
        if site is None:
            problems.append(FieldError("storage_site_id", "no such storage site"))
        if drva is None:
            problems.append(FieldError("drva_id", "no such DRVA"))
        if volume is None or (drva is not None and volume.drva_id != drva.id):
            problems.append(
                FieldError("replication_log_volume_id", "not a log volume of this DRVA")
            )
        if problems:
            raise ValidationFailed(
                "invalid domain: " + "; ".join(p.message for p in problems), field_errors=problems
            )
        assert site is not None and drva is not None and volume is not None
        if drva.status != DrvaStatus.RUNNING.value:
            raise InvalidState(
                f"DRVA {drva.name} is {drva.status}", entity="drva", state=drva.status
            )
        if volume.status != VolumeStatus.READY.value:
            raise InvalidState(
                f"log volume {volume.id} is {volume.status}",
                entity="replication_log_volume",
                state=volume.status,
            )
        if await self.session.scalar(
            select(ProtectionDomain.id).where(ProtectionDomain.name == spec.name)
        ):
            raise Conflict(f"a domain named {spec.name!r} exists", error_code="already_exists")
        now = self.container.clock.now()
        local = self.container.local_site_name or "local"
        domain_id = new_id("pd")
        domain = ProtectionDomain(
            id=domain_id,
            name=spec.name,
            storage_site_id=site.id,
            drva_id=drva.id,
            replication_log_volume_id=volume.id,
            container=f"{site.bucket_prefix}-{domain_id}",
            status="creating",
            mode="idle",
            health="ok",
            primary_site=local,
            recovery_site=None,
            owner_site=local,
            replication_enabled=False,
            rpo_target_seconds=spec.rpo_target_seconds,
            priority=spec.priority,
            pitr_enabled=spec.pitr.enabled,
            pitr_window_days=spec.pitr.window_days,
            epoch=1,
            created_at=now,
            updated_at=now,
        )
        self.session.add(domain)
        task = enqueue(
            self.session,
            self.container,
            "create_domain",
            EntityRef(type="protection_domain", id=domain_id, name=spec.name),
            actor.username,
        )
        domain.active_task_id = task.id
        events.record(
            self.session,
            at=now,
            actor=actor.username,
            action="protection_domain.create_requested",
            message=f"protection domain {spec.name} requested on storage site {site.name}",
            entity=("protection_domain", domain_id, spec.name),
            task_id=task.id,
        )
        try:
            await self.session.commit()
        except IntegrityError as error:
            await self.session.rollback()
            raise Conflict(
                f"a domain named {spec.name!r} exists", error_code="already_exists"
            ) from error
        self.container.runner.wake()
        return task

    async def update(
        self, domain_id: str, change: DomainUpdate, actor: Principal
    ) -> ProtectionDomain:
        domain = await self.get(domain_id)
        for field, value in change.model_dump(exclude_unset=True).items():
            if value is not None:
                setattr(domain, field, value)
        domain.updated_at = self.container.clock.now()
        events.record(
            self.session,
            at=domain.updated_at,
            actor=actor.username,
            action="protection_domain.updated",
            message=f"protection domain {domain.name} changed: "
            + ", ".join(sorted(change.model_fields_set)),
            entity=("protection_domain", domain.id, domain.name),
        )
        try:
            await self.session.commit()
        except IntegrityError as error:
            await self.session.rollback()
            raise Conflict("a domain with that name exists", error_code="already_exists") from error
        return domain

    async def delete(self, domain_id: str, actor: Principal) -> Task:
        domain = await self.get(domain_id)
        if domain.replication_enabled:
            raise InvalidState(
                f"protection domain {domain.name} is protecting; stop protection first",
                entity="protection_domain",
                state=domain.mode,
            )
        return await start_guarded(
            self.session,
            self.container,
            model=ProtectionDomain,
            entity=EntityRef(type="protection_domain", id=domain.id, name=domain.name),
            task_type="delete_domain",
            target="deleting",
            sources=["ready"],
            actor=actor.username,
        )
