"""Recovery requests: what is checked before a failover, test failover, failback, handover or
import starts (the tasks in `tasks` do the work), runbooks, and the recovery reports."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.objectstore.errors import ObjectNotFound, ObjectStoreError
from app.adapters.objectstore.port import ObjectStore
from app.core.errors import (
    Conflict,
    FieldError,
    InvalidState,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from app.core.ids import new_id
from app.core.pagination import PageParams, PageResult, SortOrder, paginate
from app.core.principal import Principal
from app.core.schemas import EntityRef
from app.domain.drvas.models import Drva, ReplicationLogVolume
from app.domain.drvas.states import DrvaStatus, VolumeStatus
from app.domain.events import service as events
from app.domain.inventory.models import Network
from app.domain.platform import Platform
from app.domain.protection_domains.guard import start_on_domain
from app.domain.protection_domains.models import (
    ProtectedVm,
    ProtectionDomain,
    RecoveryPoint,
)
from app.domain.protection_domains.modes import DomainMode, can_move
from app.domain.protection_domains.ownership import refresh_ownership
from app.domain.protection_domains.points import sync_points
from app.domain.recovery.models import RecoveryOperation, Runbook
from app.domain.recovery.records import recovered_vms
from app.domain.recovery.schemas import (
    FailbackRequest,
    FailoverRequest,
    ImportRequest,
    RecoveredVmRead,
    RecoveryReportRead,
    ReleaseRequest,
    RunbookRead,
    RunbookUpdate,
    RunbookVm,
    StopTestFailoverRequest,
    TestFailoverRequest,
)
from app.domain.recovery_settings.models import RecoverySettings
from app.domain.sites.identity import SiteDirectory, site_directory
from app.domain.sites.models import Site
from app.domain.storage_format.manifest import (
    CorruptManifest,
    read_manifest,
)
from app.domain.storage_sites.models import StorageSite
from app.domain.storage_sites.service import store_of
from app.tasks.models import Task
from app.tasks.service import enqueue


def runbook_id(domain_id: str) -> str:
    return f"rb-{domain_id}"


def report_of(op: RecoveryOperation, sites: SiteDirectory) -> RecoveryReportRead:
    rto = None
    if op.finished_at is not None and op.kind != "test_failover" and op.status == "succeeded":
        rto = round((op.finished_at - op.started_at).total_seconds(), 3)
    elif op.kind == "test_failover" and op.vms:
        started = [vm["powered_on_at"] for vm in recovered_vms(op) if "powered_on_at" in vm]
        if started:
            last = max(dt.datetime.fromisoformat(at) for at in started)
            rto = round((last - op.started_at).total_seconds(), 3)
    return RecoveryReportRead(
        id=op.id,
        domain_id=op.domain_id,
        domain_name=op.domain_name,
        kind=op.kind,
        type=op.type,
        continuous=op.continuous,
        status=op.status,
        actor=op.actor,
        task_id=op.task_id,
        source_site=op.source_site,
        target_site=op.target_site,
        source_site_name=sites.label(op.source_site) or op.source_site,
        target_site_name=sites.label(op.target_site) or op.target_site,
        recovery_point_id=op.recovery_point_id,
        recovery_point_at=op.recovery_point_at,
        started_at=op.started_at,
        finished_at=op.finished_at,
        rto_seconds=rto,
        success=op.success,
        summary=op.summary,
        error=op.error,
        vms=[
            RecoveredVmRead.model_validate({k: v for k, v in vm.items() if k != "image"})
            for vm in recovered_vms(op)
        ],
    )


REPORT_SORT: dict[str, Any] = {
    "started_at": RecoveryOperation.started_at,
    "kind": RecoveryOperation.kind,
    "domain_id": RecoveryOperation.domain_id,
    "id": RecoveryOperation.id,
}


class RecoveryService:
    def __init__(self, session: AsyncSession, platform: Platform) -> None:
        self.session = session
        self.platform = platform

    @property
    def local(self) -> str:
        return self.platform.state.local_site

    async def _label(self, domain: ProtectionDomain, site_id: str | None) -> str:
        sites = await site_directory(self.session, self.platform)
        return sites.label(site_id, domain.site_names) or "-"

    async def _domain(self, domain_id: str) -> ProtectionDomain:
        domain = await self.session.get(ProtectionDomain, domain_id)
        if domain is None:
            raise NotFound(f"protection domain {domain_id} does not exist")
        return domain

    async def _store(self, domain: ProtectionDomain) -> ObjectStore:
        site = await self.session.get(StorageSite, domain.storage_site_id)
        if site is None:
            raise InvalidState(
                "the domain's storage site is gone", entity="storage_site", state="missing"
            )
        return store_of(self.platform, site)

    async def _require_settings(self) -> None:
        if await self.session.scalar(select(RecoverySettings)) is None:
            raise InvalidState(
                "set the recovery settings (RocVA cluster, datastore, network) first",
                entity="recovery_settings",
                state="unset",
            )

    async def _require_peer(self, domain: ProtectionDomain, purpose: str) -> None:
        site_id = domain.owner_site
        peer = await self.session.scalar(
            select(Site).where(Site.peer_site_id == site_id, Site.role == "remote")
        )
        if peer is None:
            name = await self._label(domain, site_id)
            raise ValidationFailed(
                f"{purpose} needs site {name} ({site_id}), which owns the domain, registered as "
                "a peer site (POST /api/v1/sites)",
                field_errors=[FieldError("type", f"site {name} is not a registered peer")],
            )

    async def _check_point(self, domain: ProtectionDomain, point_id: str | None) -> None:
        if point_id is None:
            return
        if domain.owner_site != self.local:
            try:
                await sync_points(self.session, domain, await self._store(domain))
            except ObjectStoreError as error:
                raise ServiceUnavailable(
                    f"cannot list the recovery points: {error.message}"
                ) from error
        point = await self.session.get(RecoveryPoint, point_id)
        if point is None or point.domain_id != domain.id or point.generation != domain.epoch:
            raise ValidationFailed(
                f"recovery point {point_id} is not a current recovery point of the domain",
                field_errors=[FieldError("recovery_point_id", "no such recovery point")],
            )

    def _refuse(self, domain: ProtectionDomain, message: str) -> InvalidState:
        return InvalidState(
            f"protection domain {domain.name} is {domain.mode}: {message}",
            entity="protection_domain",
            state=domain.mode,
        )

    async def _start(
        self,
        domain: ProtectionDomain,
        *,
        kind: str,
        task_type: str,
        actor: Principal,
        mode: DomainMode | None,
        params: dict[str, Any],
        op_type: str,
        continuous: bool = False,
        operation: RecoveryOperation | None = None,
    ) -> Task:
        now = self.platform.clock.now()
        if operation is None:
            operation = RecoveryOperation(
                id=new_id("rr"),
                domain_id=domain.id,
                domain_name=domain.name,
                kind=kind,
                type=op_type,
                continuous=continuous,
                status="running",
                actor=actor.username,
                previous_mode=domain.mode,
                source_site=domain.owner_site,
                target_site=self.local,
                helper_vms=[],
                vms=[],
                started_at=now,
            )
            self.session.add(operation)
        else:
            operation.status = "running"
            operation.error = None
        if mode is not None:
            domain.mode = mode.value
        domain.updated_at = now
        task = await start_on_domain(
            self.session,
            self.platform,
            domain,
            task_type,
            "recovering",
            actor,
            {**params, "operation_id": operation.id},
        )
        stored = await self.session.get(RecoveryOperation, operation.id)
        if stored is not None:
            stored.task_id = task.id
            await self.session.commit()
        return task

    async def _remote(self, domain: ProtectionDomain, action: str) -> None:
        await refresh_ownership(self.session, self.platform, domain)
        if domain.owner_site == self.local:
            raise self._refuse(
                domain,
                f"this site ({self.platform.state.local_site_name}) owns it: there is nothing to "
                f"{action}",
            )

    # -- failover ----------------------------------------------------------------------------

    async def failover(self, domain_id: str, spec: FailoverRequest, actor: Principal) -> Task:
        domain = await self._domain(domain_id)
        if domain.mode == DomainMode.FAILING_OVER:
            raise self._refuse(domain, "a failover is already running")
        if domain.mode == DomainMode.CONTINUOUS_FAILOVER and spec.continuous:
            raise self._refuse(domain, "continuous failover runs; complete it instead")
        if domain.mode == DomainMode.CONTINUOUS_FAILOVER:
            return await self.complete_failover(domain_id, actor)
        await self._remote(domain, "fail over")
        if domain.primary_site == self.local:
            raise self._refuse(domain, "this is its primary site: fail back instead")
        if not can_move(domain.mode, DomainMode.FAILING_OVER):
            raise self._refuse(domain, "it cannot fail over from this mode")
        await self._require_settings()
        if spec.runbook_id is not None and spec.runbook_id != runbook_id(domain.id):
            raise ValidationFailed(
                f"runbook {spec.runbook_id} is not this domain's runbook",
                field_errors=[FieldError("runbook_id", "no such runbook for this domain")],
            )
        if spec.type == "planned":
            await self._require_peer(domain, "a planned failover")
            if spec.recovery_point_id is not None:
                raise ValidationFailed(
                    "a planned failover recovers the final point of the handover",
                    field_errors=[FieldError("recovery_point_id", "not allowed with type planned")],
                )
        await self._check_point(domain, spec.recovery_point_id)
        return await self._start(
            domain,
            kind="failover",
            task_type="continuous_rehydration" if spec.continuous else "failover",
            actor=actor,
            mode=DomainMode.FAILING_OVER,
            params={"recovery_point_id": spec.recovery_point_id},
            op_type=spec.type,
            continuous=spec.continuous,
        )

    async def _continuous_operation(self, domain: ProtectionDomain) -> RecoveryOperation:
        op = await self.session.scalar(
            select(RecoveryOperation)
            .where(
                RecoveryOperation.domain_id == domain.id,
                RecoveryOperation.status.in_(["rehydrating", "paused"]),
            )
            .order_by(RecoveryOperation.started_at.desc())
            .limit(1)
        )
        if op is None:
            raise self._refuse(domain, "no continuous recovery or paused failback to continue")
        return op

    async def complete_failover(self, domain_id: str, actor: Principal) -> Task:
        domain = await self._domain(domain_id)
        if domain.mode != DomainMode.CONTINUOUS_FAILOVER:
            raise self._refuse(domain, "only a continuous failover can be completed")
        op = await self._continuous_operation(domain)
        await self._require_settings()
        return await self._start(
            domain,
            kind="failover",
            task_type="complete_recovery",
            actor=actor,
            mode=DomainMode.FAILING_OVER,
            params={},
            op_type=op.type,
            operation=op,
        )

    # -- test failover -----------------------------------------------------------------------

    async def test_failover(
        self, domain_id: str, spec: TestFailoverRequest, actor: Principal
    ) -> Task:
        domain = await self._domain(domain_id)
        if domain.mode == DomainMode.TEST_FAILOVER:
            raise self._refuse(domain, "a test failover is already running; stop it first")
        await self._remote(domain, "test")
        if not can_move(domain.mode, DomainMode.TEST_FAILOVER):
            raise self._refuse(domain, "a test failover cannot start from this mode")
        await self._require_settings()
        await self._check_point(domain, spec.recovery_point_id)
        return await self._start(
            domain,
            kind="test_failover",
            task_type="test_failover",
            actor=actor,
            mode=None,
            params={"recovery_point_id": spec.recovery_point_id},
            op_type="test",
        )

    async def stop_test_failover(
        self, domain_id: str, spec: StopTestFailoverRequest, actor: Principal
    ) -> Task:
        domain = await self._domain(domain_id)
        if domain.mode != DomainMode.TEST_FAILOVER:
            raise self._refuse(domain, "no test failover runs")
        op = await self.session.scalar(
            select(RecoveryOperation)
            .where(
                RecoveryOperation.domain_id == domain.id,
                RecoveryOperation.kind == "test_failover",
                RecoveryOperation.status == "running",
            )
            .order_by(RecoveryOperation.started_at.desc())
            .limit(1)
        )
        if op is None:
            raise self._refuse(domain, "no test failover runs")
        params = {"operation_id": op.id, "success": spec.success, "summary": spec.summary}
        return await start_on_domain(
            self.session, self.platform, domain, "stop_test_failover", "recovering", actor, params
        )

    # -- failback ----------------------------------------------------------------------------

    async def failback(self, domain_id: str, spec: FailbackRequest, actor: Principal) -> Task:
        domain = await self._domain(domain_id)
        if domain.mode in (DomainMode.FAILING_BACK, DomainMode.FAILBACK_PAUSED):
            raise self._refuse(domain, "a failback is already under way")
        if domain.mode == DomainMode.CONTINUOUS_FAILBACK:
            if spec.continuous:
                raise self._refuse(domain, "continuous failback runs; complete it instead")
            return await self.complete_failback(domain_id, actor, spec)
        if domain.primary_site != self.local:
            raise self._refuse(
                domain,
                "a failback runs at the domain's primary site "
                f"({await self._label(domain, domain.primary_site)})",
            )
        await self._remote(domain, "fail back (no failover happened)")
        if not can_move(domain.mode, DomainMode.FAILING_BACK):
            raise self._refuse(domain, "it cannot fail back from this mode")
        await self._require_settings()
        await self._require_peer(domain, "a failback")
        return await self._start(
            domain,
            kind="failback",
            task_type="continuous_rehydration" if spec.continuous else "failback",
            actor=actor,
            mode=DomainMode.FAILING_BACK,
            params={"max_delay_minutes": spec.max_delay_minutes},
            op_type="standard",
            continuous=spec.continuous,
        )

    async def resume_failback(
        self, domain_id: str, spec: FailbackRequest | None, actor: Principal
    ) -> Task:
        domain = await self._domain(domain_id)
        if domain.mode != DomainMode.FAILBACK_PAUSED:
            raise self._refuse(domain, "only a paused failback can be resumed")
        op = await self._continuous_operation(domain)
        delay = spec.max_delay_minutes if spec is not None else 10
        return await self._start(
            domain,
            kind="failback",
            task_type="failback",
            actor=actor,
            mode=DomainMode.FAILING_BACK,
            params={"max_delay_minutes": delay},
            op_type=op.type,
            operation=op,
        )

    async def complete_failback(
        self, domain_id: str, actor: Principal, spec: FailbackRequest | None = None
    ) -> Task:
        domain = await self._domain(domain_id)
        if domain.mode != DomainMode.CONTINUOUS_FAILBACK:
            raise self._refuse(domain, "only a continuous failback can be completed")
        op = await self._continuous_operation(domain)
        await self._require_peer(domain, "a failback")
        return await self._start(
            domain,
            kind="failback",
            task_type="complete_recovery",
            actor=actor,
            mode=DomainMode.FAILING_BACK,
            params={"max_delay_minutes": spec.max_delay_minutes if spec else 10},
            op_type=op.type,
            operation=op,
        )

    # -- the owner's side of a handover --------------------------------------------------------

    async def release(self, domain_id: str, spec: ReleaseRequest, actor: Principal) -> Task:
        domain = await self._domain(domain_id)
        if domain.active_task_id is not None:
            running = await self.session.get(Task, domain.active_task_id)
            if (
                running is not None
                and running.type == "release_domain"
                and running.params.get("to_site") == spec.to_site
            ):
                return running
        await refresh_ownership(self.session, self.platform, domain)
        if domain.owner_site != self.local:
            owner_name = await self._label(domain, domain.owner_site)
            raise self._refuse(domain, f"site {owner_name} owns it, not this site")
        if spec.to_site == self.local:
            raise ValidationFailed(
                "a domain cannot be handed over to its own site",
                field_errors=[FieldError("to_site", "the local site")],
            )
        if domain.mode not in (DomainMode.PROTECTING, DomainMode.RUNNING_IN_FAILOVER):
            raise self._refuse(domain, "only a protecting domain can be handed over")
        params = {"to_site": spec.to_site}
        return await start_on_domain(
            self.session, self.platform, domain, "release_domain", "releasing", actor, params
        )

    # -- import ------------------------------------------------------------------------------

    async def import_domain(self, domain_id: str, spec: ImportRequest, actor: Principal) -> Task:
        if spec.domain_id is not None and spec.domain_id != domain_id:
            raise ValidationFailed(
                "the body's domain_id differs from the path's",
                field_errors=[FieldError("domain_id", "must equal the id in the path")],
            )
        if await self.session.get(ProtectionDomain, domain_id) is not None:
            raise Conflict(
                f"protection domain {domain_id} already exists at this site",
                error_code="already_exists",
            )
        site = await self.session.get(StorageSite, spec.storage_site_id)
        if site is None:
            raise ValidationFailed(
                "no such storage site",
                field_errors=[FieldError("storage_site_id", "no such storage site")],
            )
        container_name = f"{site.bucket_prefix}-{domain_id}"
        store = store_of(self.platform, site)
        try:
            manifest = await read_manifest(store, container_name)
        except (ObjectNotFound, CorruptManifest) as error:
            raise ValidationFailed(
                f"storage site {site.name} holds no domain {domain_id} (scan-domains lists them)",
                field_errors=[FieldError("domain_id", "not found on the storage site")],
            ) from error
        except ObjectStoreError as error:
            raise ServiceUnavailable(f"cannot read the storage site: {error.message}") from error
        sites = await site_directory(self.session, self.platform)
        found = manifest.sites(sites)
        owner = str(found["owner_site"])
        owner_name = sites.label(owner, manifest.labels)
        if owner == self.local:
            raise Conflict(
                f"this site ({owner_name}) owns domain {domain_id}: there is nothing to import",
                error_code="invalid_state",
            )
        name = manifest.name or domain_id
        if await self.session.scalar(
            select(ProtectionDomain.id).where(ProtectionDomain.name == name)
        ):
            raise Conflict(f"a domain named {name!r} exists here", error_code="already_exists")
        drva, volume = await self._drva_and_volume(spec)
        now = self.platform.clock.now()
        domain = ProtectionDomain(
            id=domain_id,
            name=name,
            storage_site_id=site.id,
            drva_id=drva.id,
            replication_log_volume_id=volume.id,
            container=container_name,
            status="importing",
            mode=DomainMode.IMPORTED.value,
            health="ok",
            primary_site=str(found["primary_site"] or owner),
            recovery_site=self.local,
            owner_site=owner,
            site_names=manifest.labels,
            replication_enabled=False,
            rpo_target_seconds=manifest.rpo_target_seconds,
            priority=manifest.priority,
            pitr_enabled=manifest.pitr_enabled,
            pitr_window_days=manifest.pitr_window_days,
            epoch=manifest.epoch,
            created_at=now,
            updated_at=now,
        )
        self.session.add(domain)
        task = enqueue(
            self.session,
            self.platform,
            "import_domain",
            EntityRef(type="protection_domain", id=domain_id, name=name),
            actor.username,
        )
        domain.active_task_id = task.id
        events.record(
            self.session,
            at=now,
            actor=actor.username,
            action="protection_domain.import_requested",
            message=f"import of protection domain {name} from storage site {site.name} "
            f"requested (owner: site {owner_name})",
            entity=("protection_domain", domain_id, name),
            task_id=task.id,
        )
        await self.session.commit()
        self.platform.tasks.wake()
        return task

    async def _drva_and_volume(self, spec: ImportRequest) -> tuple[Drva, ReplicationLogVolume]:
        """The DRVA and log that protect the domain once it runs here: the ones named, or the
        only running DRVA with a ready log volume."""
        volumes = list(
            await self.session.scalars(
                select(ReplicationLogVolume)
                .join(Drva, Drva.id == ReplicationLogVolume.drva_id)
                .where(
                    Drva.status == DrvaStatus.RUNNING.value,
                    ReplicationLogVolume.status == VolumeStatus.READY.value,
                )
            )
        )
        if spec.drva_id is not None:
            volumes = [v for v in volumes if v.drva_id == spec.drva_id]
        if spec.replication_log_volume_id is not None:
            volumes = [v for v in volumes if v.id == spec.replication_log_volume_id]
        if len(volumes) != 1:
            problem = (
                "deploy a DRVA with a replication log volume at this site first"
                if not volumes
                else "several DRVAs or log volumes could protect it: name drva_id and "
                "replication_log_volume_id"
            )
            raise ValidationFailed(
                problem, field_errors=[FieldError("replication_log_volume_id", problem)]
            )
        drva = await self.session.get(Drva, volumes[0].drva_id)
        assert drva is not None
        return drva, volumes[0]

    # -- runbooks ----------------------------------------------------------------------------

    async def runbook(self, domain_id: str) -> RunbookRead:
        await self._domain(domain_id)
        row = await self.session.get(Runbook, domain_id)
        return RunbookRead(
            id=runbook_id(domain_id),
            domain_id=domain_id,
            vms=[RunbookVm.model_validate(vm) for vm in (row.spec if row else {}).get("vms", [])],
            updated_at=row.updated_at if row else None,
        )

    async def put_runbook(
        self, domain_id: str, spec: RunbookUpdate, actor: Principal
    ) -> RunbookRead:
        domain = await self._domain(domain_id)
        vms = list(
            await self.session.scalars(
                select(ProtectedVm).where(ProtectedVm.domain_id == domain_id)
            )
        )
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
        row = await self.session.get(Runbook, domain_id)
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

    # -- reports -----------------------------------------------------------------------------

    async def reports(
        self, domain_id: str | None, kind: str | None, params: PageParams
    ) -> PageResult[RecoveryReportRead]:
        query = select(RecoveryOperation)
        if domain_id is not None:
            query = query.where(RecoveryOperation.domain_id == domain_id)
        if kind is not None:
            query = query.where(RecoveryOperation.kind == kind)
        # Newest first unless the caller sorts otherwise.
        if params.sort_by is None:
            params = replace(params, sort_by="started_at", order=SortOrder.DESC)
        page = await paginate(self.session, query, params, REPORT_SORT, "id")
        sites = await site_directory(self.session, self.platform)
        return PageResult(
            items=[report_of(op, sites) for op in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    async def report(self, report_id: str) -> RecoveryReportRead:
        op = await self.session.get(RecoveryOperation, report_id)
        if op is None:
            raise NotFound(f"recovery report {report_id} does not exist")
        return report_of(op, await site_directory(self.session, self.platform))
