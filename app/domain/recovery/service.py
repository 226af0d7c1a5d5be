"""Recovery requests: what is checked before a failover, test failover, failback or handover
starts (the tasks in `tasks` do the work). Imports, runbooks and reports have their own
services (`imports`, `runbooks`, `reports`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.objectstore.errors import ObjectStoreError
from app.adapters.objectstore.port import ObjectStore
from app.adapters.peer.port import PeerError
from app.core.errors import (
    Conflict,
    FieldError,
    InvalidState,
    ServiceUnavailable,
    ValidationFailed,
)
from app.core.ids import new_id
from app.core.principal import Principal
from app.domain.platform import Platform
from app.domain.protection_domains import repository as domains
from app.domain.protection_domains.guard import start_on_domain
from app.domain.protection_domains.models import (
    ProtectionDomain,
    RecoveryPoint,
)
from app.domain.protection_domains.modes import DomainMode, can_move
from app.domain.protection_domains.ownership import refresh_ownership
from app.domain.protection_domains.points import sync_points
from app.domain.recovery import repository
from app.domain.recovery.models import RecoveryOperation
from app.domain.recovery.runbooks import runbook_id
from app.domain.recovery.schemas import (
    CompleteFailoverRequest,
    FailbackRequest,
    FailoverRequest,
    PointChoice,
    ReleaseRequest,
    RestoreRequest,
    StopTestFailoverRequest,
    TestFailoverRequest,
)
from app.domain.sites import repository as sites
from app.domain.sites.identity import site_directory
from app.domain.sites.service import endpoint_of
from app.domain.storage_sites.models import StorageSite
from app.domain.storage_sites.service import store_of
from app.tasks.models import Task


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

    async def _store(self, domain: ProtectionDomain) -> ObjectStore:
        site = await self.session.get(StorageSite, domain.storage_site_id)
        if site is None:
            raise InvalidState(
                "the domain's storage site is gone", entity="storage_site", state="missing"
            )
        return store_of(self.platform.secrets, site)

    async def _require_settings(self) -> None:
        if not await repository.settings_exist(self.session):
            raise InvalidState(
                "set the recovery settings (RocVA cluster, datastore, network) first",
                entity="recovery_settings",
                state="unset",
            )

    async def _require_peer(self, domain: ProtectionDomain, purpose: str) -> None:
        site_id = domain.owner_site
        peer = await sites.peer_of(self.session, site_id)
        if peer is None:
            name = await self._label(domain, site_id)
            raise ValidationFailed(
                f"{purpose} needs site {name} ({site_id}), which owns the domain, registered as "
                "a peer site (POST /api/v1/sites)",
                field_errors=[FieldError("type", f"site {name} is not a registered peer")],
            )

    async def _choose_point(
        self, domain: ProtectionDomain, choice: PointChoice, *, forced: bool = False
    ) -> str | None:
        """The recovery point the request names (checked), the one its `point_in_time` picks,
        or None: the recovery takes the latest consistent one when it reads."""
        if choice.point_in_time is None:
            await self._check_point(domain, choice.recovery_point_id)
            return choice.recovery_point_id
        wanted = choice.point_in_time
        if not domain.pitr_enabled:
            raise _point_refused(
                f"protection domain {domain.name} has no PITR (it is chosen when a domain is "
                "created): only its latest recovery point can be recovered"
            )
        await self._mirror_points(domain)
        # The window as this site lists it. No "in the future" here: the points carry the
        # owner's clock, which need not agree with this one.
        earliest = self.platform.clock.now() - dt.timedelta(days=domain.pitr_window_days)
        points = await domains.recovery_points(
            self.session, domain.id, generation=domain.epoch, since=earliest, limit=None
        )
        usable = [p for p in points if p.consistent or forced]
        chosen = next((p for p in usable if p.timestamp <= wanted), None)
        if chosen is None:
            oldest = usable[-1].timestamp.isoformat() if usable else "none"
            raise _point_refused(
                f"no {'' if forced else 'consistent '}recovery point at or before "
                f"{wanted.isoformat()} in the {domain.pitr_window_days}-day window (the oldest "
                f"is {oldest})"
            )
        return chosen.id

    async def _mirror_points(self, domain: ProtectionDomain) -> None:
        if domain.owner_site == self.local:
            return
        try:
            await sync_points(self.session, domain, await self._store(domain))
        except ObjectStoreError as error:
            raise ServiceUnavailable(f"cannot list the recovery points: {error.message}") from error

    async def _check_point(self, domain: ProtectionDomain, point_id: str | None) -> None:
        if point_id is None:
            return
        await self._mirror_points(domain)
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
        domain = await repository.domain_or_404(self.session, domain_id)
        if domain.mode == DomainMode.FAILING_OVER:
            raise self._refuse(domain, "a failover is already running")
        if domain.mode == DomainMode.CONTINUOUS_FAILOVER and spec.continuous:
            raise self._refuse(domain, "continuous failover runs; complete it instead")
        if domain.mode == DomainMode.CONTINUOUS_FAILOVER:
            return await self.complete_failover(
                domain_id,
                CompleteFailoverRequest(
                    recovery_point_id=spec.recovery_point_id, point_in_time=spec.point_in_time
                ),
                actor,
            )
        await self._remote(domain, "fail over")
        if domain.primary_site == self.local:
            raise self._refuse(domain, "this is its primary site: fail back instead")
        if not can_move(domain.mode, DomainMode.FAILING_OVER):
            raise self._refuse(domain, "it cannot fail over from this mode")
        await self._require_settings()
        self._check_runbook(domain, spec.runbook_id)
        if spec.type == "planned":
            await self._require_peer(domain, "a planned failover")
            for field in ("recovery_point_id", "point_in_time"):
                if getattr(spec, field) is not None:
                    raise ValidationFailed(
                        "a planned failover recovers the final point of the handover",
                        field_errors=[FieldError(field, "not allowed with type planned")],
                    )
        point = await self._choose_point(domain, spec, forced=spec.type == "forced")
        return await self._start(
            domain,
            kind="failover",
            task_type="continuous_rehydration" if spec.continuous else "failover",
            actor=actor,
            mode=DomainMode.FAILING_OVER,
            params={"recovery_point_id": point},
            op_type=spec.type,
            continuous=spec.continuous,
        )

    def _check_runbook(self, domain: ProtectionDomain, runbook: str | None) -> None:
        if runbook is not None and runbook != runbook_id(domain.id):
            raise ValidationFailed(
                f"runbook {runbook} is not this domain's runbook",
                field_errors=[FieldError("runbook_id", "no such runbook for this domain")],
            )

    # -- restore -----------------------------------------------------------------------------

    async def restore(self, domain_id: str, spec: RestoreRequest, actor: Principal) -> Task:
        """A recovery that makes this site the domain's primary (and owner): for a primary
        site that is lost. Refused while the owner still answers, unless `force`."""
        domain = await repository.domain_or_404(self.session, domain_id)
        if domain.mode == DomainMode.FAILING_OVER:
            raise self._refuse(domain, "a recovery is already running")
        await self._remote(domain, "restore")
        if domain.primary_site == self.local:
            raise self._refuse(domain, "this is already its primary site: fail back instead")
        if not can_move(domain.mode, DomainMode.FAILING_OVER):
            raise self._refuse(domain, "it cannot be restored from this mode")
        await self._require_settings()
        self._check_runbook(domain, spec.runbook_id)
        if not spec.force and await self._owner_answers(domain):
            owner = await self._label(domain, domain.owner_site)
            raise Conflict(
                f"site {owner} owns protection domain {domain.name} and answers: fail over "
                "(or fail back) from there, or pass force=true to take it over anyway",
                error_code="owner_reachable",
            )
        point = await self._choose_point(domain, spec, forced=spec.force)
        return await self._start(
            domain,
            kind="restore",
            task_type="restore",
            actor=actor,
            mode=DomainMode.FAILING_OVER,
            params={"recovery_point_id": point},
            op_type="forced" if spec.force else "regular",
        )

    async def _owner_answers(self, domain: ProtectionDomain) -> bool:
        peer = await sites.peer_of(self.session, domain.owner_site)
        if peer is None:
            return False
        try:
            await self.platform.peers.describe(endpoint_of(self.platform.secrets, peer))
        except PeerError:
            return False
        return True

    async def _continuous_operation(self, domain: ProtectionDomain) -> RecoveryOperation:
        op = await repository.latest_operation(
            self.session, domain.id, statuses=["rehydrating", "paused"]
        )
        if op is None:
            raise self._refuse(domain, "no continuous recovery or paused failback to continue")
        return op

    async def complete_failover(
        self, domain_id: str, spec: CompleteFailoverRequest, actor: Principal
    ) -> Task:
        domain = await repository.domain_or_404(self.session, domain_id)
        if domain.mode != DomainMode.CONTINUOUS_FAILOVER:
            raise self._refuse(domain, "only a continuous failover can be completed")
        op = await self._continuous_operation(domain)
        await self._require_settings()
        point = await self._choose_point(domain, spec, forced=op.type == "forced")
        return await self._start(
            domain,
            kind="failover",
            task_type="complete_recovery",
            actor=actor,
            mode=DomainMode.FAILING_OVER,
            params={"recovery_point_id": point} if point else {},
            op_type=op.type,
            operation=op,
        )

    # -- test failover -----------------------------------------------------------------------

    async def test_failover(
        self, domain_id: str, spec: TestFailoverRequest, actor: Principal
    ) -> Task:
        domain = await repository.domain_or_404(self.session, domain_id)
        if domain.mode == DomainMode.TEST_FAILOVER:
            raise self._refuse(domain, "a test failover is already running; stop it first")
        await self._remote(domain, "test")
        if not can_move(domain.mode, DomainMode.TEST_FAILOVER):
            raise self._refuse(domain, "a test failover cannot start from this mode")
        await self._require_settings()
        point = await self._choose_point(domain, spec)
        return await self._start(
            domain,
            kind="test_failover",
            task_type="test_failover",
            actor=actor,
            mode=None,
            params={"recovery_point_id": point},
            op_type="test",
        )

    async def stop_test_failover(
        self, domain_id: str, spec: StopTestFailoverRequest, actor: Principal
    ) -> Task:
        domain = await repository.domain_or_404(self.session, domain_id)
        if domain.mode != DomainMode.TEST_FAILOVER:
            raise self._refuse(domain, "no test failover runs")
        op = await repository.latest_operation(
            self.session, domain.id, statuses=["running"], kind="test_failover"
        )
        if op is None:
            raise self._refuse(domain, "no test failover runs")
        params = {"operation_id": op.id, "success": spec.success, "summary": spec.summary}
        return await start_on_domain(
            self.session, self.platform, domain, "stop_test_failover", "recovering", actor, params
        )

    # -- failback ----------------------------------------------------------------------------

    async def failback(self, domain_id: str, spec: FailbackRequest, actor: Principal) -> Task:
        domain = await repository.domain_or_404(self.session, domain_id)
        if domain.mode in (DomainMode.FAILING_BACK, DomainMode.FAILBACK_PAUSED):
            raise self._refuse(domain, "a failback is already under way")
        if domain.mode == DomainMode.CONTINUOUS_FAILBACK:
            if spec.continuous:
                raise self._refuse(domain, "continuous failback runs; complete it instead")
            return await self.complete_failback(domain_id, actor, spec)
        # Ownership first: a restore elsewhere may have made another site the primary.
        await self._remote(domain, "fail back (no failover happened)")
        if domain.primary_site != self.local:
            raise self._refuse(
                domain,
                "a failback runs at the domain's primary site "
                f"({await self._label(domain, domain.primary_site)})",
            )
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
        domain = await repository.domain_or_404(self.session, domain_id)
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
        domain = await repository.domain_or_404(self.session, domain_id)
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
        domain = await repository.domain_or_404(self.session, domain_id)
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


def _point_refused(message: str) -> ValidationFailed:
    return ValidationFailed(
        message,
        error_code="point_outside_window",
        field_errors=[FieldError("point_in_time", message)],
    )
