"""Protection domains: a group of VMs protected and recovered together, with one DRVA, one
replication log and one container on a storage site."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.objectstore.errors import ObjectStoreError
from app.core.db import commit_unique
from app.core.errors import (
    Conflict,
    FieldError,
    InvalidState,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from app.core.ids import new_id
from app.core.principal import Principal
from app.core.schemas import EntityRef
from app.domain.clusters.states import ClusterStatus
from app.domain.drvas.models import Drva, ReplicationLogVolume
from app.domain.drvas.states import DrvaStatus, VolumeStatus
from app.domain.events import service as events
from app.domain.inventory import repository as inventory
from app.domain.inventory.models import Cluster, VirtualMachine
from app.domain.platform import Platform
from app.domain.protection_domains import repository
from app.domain.protection_domains.guard import start_on_domain
from app.domain.protection_domains.models import DomainReplication, ProtectionDomain
from app.domain.protection_domains.ownership import refresh_ownership
from app.domain.protection_domains.points import sync_points
from app.domain.protection_domains.schemas import (
    DomainCreate,
    DomainRead,
    DomainUpdate,
    PitrWindowRead,
    ProtectedVmRead,
    RecoveryPointRead,
    StatisticsRead,
    VmsAdd,
)
from app.domain.protection_domains.views import pitr_window_of, statistics_of, to_read, vm_to_read
from app.domain.protection_domains.write_path import WritePath
from app.domain.sites.identity import site_directory
from app.domain.storage_sites.models import StorageSite
from app.domain.storage_sites.service import store_of
from app.tasks.models import Task
from app.tasks.service import enqueue, start_guarded


class DomainService:
    def __init__(self, session: AsyncSession, platform: Platform) -> None:
        self.session = session
        self.platform = platform

    async def all(self) -> list[ProtectionDomain]:
        return list(await repository.all_by_name(self.session))

    async def reads(self, domains: Sequence[ProtectionDomain]) -> list[DomainRead]:
        ids = [domain.id for domain in domains]
        counts = await repository.vm_counts(self.session, ids)
        replications = await repository.replications(self.session, ids)
        now = self.platform.clock.timestamp()
        sites = await site_directory(self.session, self.platform)
        return [
            to_read(domain, replications.get(domain.id), counts.get(domain.id, 0), now, sites)
            for domain in domains
        ]

    async def read(self, domain_id: str) -> DomainRead:
        return (await self.reads([await self.get(domain_id)]))[0]

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
        if await repository.name_taken(self.session, spec.name):
            raise Conflict(f"a domain named {spec.name!r} exists", error_code="already_exists")
        now = self.platform.clock.now()
        local = self.platform.state.local_site
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
            pitr_estimated_iops=spec.pitr.estimated_data_rate_iops,
            epoch=1,
            created_at=now,
            updated_at=now,
        )
        self.session.add(domain)
        task = enqueue(
            self.session,
            self.platform,
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
        await commit_unique(
            self.session,
            Conflict(f"a domain named {spec.name!r} exists", error_code="already_exists"),
        )
        self.platform.tasks.wake()
        return task

    async def update(
        self, domain_id: str, change: DomainUpdate, actor: Principal
    ) -> ProtectionDomain:
        domain = await self.get(domain_id)
        for field, value in change.model_dump(exclude_unset=True).items():
            if value is not None:
                setattr(domain, field, value)
        domain.updated_at = self.platform.clock.now()
        events.record(
            self.session,
            at=domain.updated_at,
            actor=actor.username,
            action="protection_domain.updated",
            message=f"protection domain {domain.name} changed: "
            + ", ".join(sorted(change.model_fields_set)),
            entity=("protection_domain", domain.id, domain.name),
        )
        await commit_unique(
            self.session,
            Conflict("a domain with that name exists", error_code="already_exists"),
        )
        return domain

    # -- VMs ------------------------------------------------------------------------------

    async def add_vms(self, domain_id: str, spec: VmsAdd, actor: Principal) -> Task:
        domain = await self.get(domain_id)
        self._require_owned(domain, "adding VMs")
        vm_ids = list(dict.fromkeys(spec.vm_ids))
        found = await inventory.by_ids(self.session, VirtualMachine, vm_ids)
        missing = [vm_id for vm_id in vm_ids if vm_id not in found]
        if missing:
            raise ValidationFailed(
                f"no such VM: {', '.join(missing)}",
                field_errors=[FieldError("vm_ids", f"no such VM: {', '.join(missing)}")],
            )
        volume = await self.session.get(ReplicationLogVolume, domain.replication_log_volume_id)
        if spec.protection_mode == "write_back_iscsi" and (
            volume is None or volume.type != "iscsi"
        ):
            raise ValidationFailed(
                "write_back_iscsi needs the domain's replication log on an iSCSI LUN",
                field_errors=[
                    FieldError("protection_mode", "the domain's log volume is not iSCSI")
                ],
            )
        drva = await self.session.get(Drva, domain.drva_id)
        drva_cluster = await self.session.get(Cluster, drva.cluster_id) if drva else None
        foreign = [
            vm.name
            for vm in found.values()
            if drva_cluster is not None and vm.vcenter_id != drva_cluster.vcenter_id
        ]
        if foreign:
            raise ValidationFailed(
                f"not in the vCenter of the domain's DRVA: {', '.join(sorted(foreign))}",
                field_errors=[FieldError("vm_ids", "VMs of another vCenter")],
            )
        taken = await repository.protected_elsewhere(self.session, vm_ids)
        if taken:
            raise Conflict(
                "already protected: "
                + ", ".join(f"{found[vm_id].name} (domain {pd})" for vm_id, pd in taken.items()),
                error_code="already_protected",
            )
        cluster_ids = {vm.cluster_id for vm in found.values()}
        clusters = await inventory.by_ids(self.session, Cluster, [c for c in cluster_ids if c])
        unready = sorted(
            vm.name
            for vm in found.values()
            if vm.cluster_id is None
            or clusters[vm.cluster_id].status != ClusterStatus.CONFIGURED.value
        )
        if unready:
            raise InvalidState(
                "the IO filter is not installed on the cluster of: " + ", ".join(unready),
                entity="cluster",
                state="unconfigured",
            )
        return await start_on_domain(
            self.session,
            self.platform,
            domain,
            "add_vms",
            "adding_vms",
            actor,
            {"vm_ids": vm_ids, "protection_mode": spec.protection_mode},
        )

    async def vms(self, domain_id: str) -> list[ProtectedVmRead]:
        await self.get(domain_id)
        now = self.platform.clock.timestamp()
        repl = await self.session.get(DomainReplication, domain_id)
        latest = repl.last_recovery_point_at if repl is not None else None
        log_type = await self._log_type(await self.get(domain_id))
        return [
            vm_to_read(vm, latest, now, log_type)
            for vm in await repository.protected_vms(self.session, domain_id)
        ]

    async def remove_vm(self, domain_id: str, vm_id: str, actor: Principal) -> Task:
        domain = await self.get(domain_id)
        self._require_owned(domain, "removing VMs")

        async def still_in_domain(session: AsyncSession) -> None:
            if vm_id not in {vm.vm_id for vm in await repository.protected_vms(session, domain_id)}:
                raise NotFound(f"VM {vm_id} is not in protection domain {domain.name}")

        await still_in_domain(self.session)
        return await start_on_domain(
            self.session,
            self.platform,
            domain,
            "remove_vm",
            "removing_vm",
            actor,
            {"vm_id": vm_id},
            still_in_domain,
        )

    # -- protection -----------------------------------------------------------------------

    async def start_protection(self, domain_id: str, actor: Principal) -> Task:
        domain = await self.get(domain_id)
        await refresh_ownership(self.session, self.platform, domain)
        self._require_owned(domain, "protection")
        if domain.replication_enabled:
            raise InvalidState(
                f"protection domain {domain.name} is already protecting",
                entity="protection_domain",
                state=domain.mode,
            )
        repl = await self.session.get(DomainReplication, domain_id)
        if repl is not None and repl.fenced:
            raise InvalidState(
                f"protection domain {domain.name} is fenced: {repl.last_error}",
                entity="protection_domain",
                state="fenced",
            )
        if not await repository.protected_vms(self.session, domain_id):
            raise InvalidState(
                f"protection domain {domain.name} has no VMs; add VMs first",
                entity="protection_domain",
                state=domain.mode,
            )
        return await start_on_domain(
            self.session, self.platform, domain, "start_protection", "starting", actor
        )

    async def stop_protection(self, domain_id: str, actor: Principal) -> Task:
        domain = await self.get(domain_id)
        if not domain.replication_enabled:
            raise InvalidState(
                f"protection domain {domain.name} is not protecting",
                entity="protection_domain",
                state=domain.mode,
            )
        return await start_on_domain(
            self.session, self.platform, domain, "stop_protection", "stopping", actor
        )

    async def recovery_points(self, domain_id: str) -> list[RecoveryPointRead]:
        """Within the PITR window. When PITR is off, the latest, and the latest consistent one
        too when the latest is not (a VM still in its initial sync): what a failover uses."""
        domain = await self.get(domain_id)
        if domain.owner_site != self.local:
            await self._mirror_points(domain)
        now = self.platform.clock.timestamp()
        since = None
        if domain.pitr_enabled:
            since = dt.datetime.fromtimestamp(now - domain.pitr_window_days * 86400, dt.UTC)
        points = await repository.recovery_points(
            self.session,
            domain_id,
            generation=domain.epoch,
            since=since,
            limit=None if domain.pitr_enabled else 1,
        )
        if not domain.pitr_enabled and points and not points[0].consistent:
            points = [
                *points,
                *await repository.recovery_points(
                    self.session,
                    domain_id,
                    generation=domain.epoch,
                    since=None,
                    limit=1,
                    consistent=True,
                ),
            ]
        return [
            RecoveryPointRead(
                id=p.id, timestamp=p.timestamp, consistent=p.consistent, vms=len(p.vm_ids)
            )
            for p in points
        ]

    async def pitr_window(self, domain_id: str) -> PitrWindowRead:
        points = await self.recovery_points(domain_id)
        domain = await self.get(domain_id)
        vms = await repository.protected_vms(self.session, domain_id)
        return pitr_window_of(domain, points, vms)

    @property
    def local(self) -> str:
        return self.platform.state.local_site

    async def _mirror_points(self, domain: ProtectionDomain) -> None:
        """Another site owns the domain: its points are in the container, not in this table."""
        site = await self.session.get(StorageSite, domain.storage_site_id)
        if site is None:
            return
        try:
            await sync_points(self.session, domain, store_of(self.platform.secrets, site))
        except ObjectStoreError as error:
            raise ServiceUnavailable(f"cannot list the recovery points: {error.message}") from error
        await self.session.commit()

    def _require_owned(self, domain: ProtectionDomain, action: str) -> None:
        if domain.owner_site != self.local:
            raise InvalidState(
                f"protection domain {domain.name} is owned by site "
                f"{domain.site_names.get(domain.owner_site, domain.owner_site)}; "
                f"{action} happens there (or after a failover here)",
                entity="protection_domain",
                state=domain.mode,
            )

    async def statistics(self, domain_id: str) -> StatisticsRead:
        domain = await self.get(domain_id)
        repl = await self.session.get(DomainReplication, domain_id)
        vms = await repository.protected_vms(self.session, domain_id)
        path = WritePath.of(
            [(vm.protection_mode, vm.disks) for vm in vms], await self._log_type(domain)
        )
        drva = await self.session.get(Drva, domain.drva_id)
        down_since = None
        if drva is not None and drva.status != DrvaStatus.RUNNING.value:
            down_since = drva.last_heartbeat_at or drva.created_at
        return statistics_of(domain, repl, self.platform.clock.timestamp(), path, down_since)

    async def _log_type(self, domain: ProtectionDomain) -> str | None:
        volume = await self.session.get(ReplicationLogVolume, domain.replication_log_volume_id)
        return volume.type if volume is not None else None

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
            self.platform,
            model=ProtectionDomain,
            entity=EntityRef(type="protection_domain", id=domain.id, name=domain.name),
            task_type="delete_domain",
            target="deleting",
            sources=["ready"],
            actor=actor.username,
        )
