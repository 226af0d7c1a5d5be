"""Failover, test failover, failback, import and handover of a protection domain, its runbook,
and the recovery reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from app.api.deps import CurrentUser, OperatorUser, paged, provide
from app.api.responses import ACCEPTED, accepted
from app.core.pagination import PageParams
from app.core.schemas import Page
from app.domain.recovery.imports import ImportService
from app.domain.recovery.reports import REPORT_SORT, ReportService
from app.domain.recovery.runbooks import RunbookService
from app.domain.recovery.schemas import (
    CompleteFailoverRequest,
    FailbackRequest,
    FailoverRequest,
    ImportRequest,
    RecoveryReportRead,
    ReleaseRequest,
    RestoreRequest,
    RunbookRead,
    RunbookUpdate,
    StopTestFailoverRequest,
    TestFailoverRequest,
)
from app.domain.recovery.service import RecoveryService
from app.tasks.schemas import TaskRead

router = APIRouter(tags=["recovery"])
ImportServiceDep = Annotated[ImportService, provide(ImportService)]
RecoveryServiceDep = Annotated[RecoveryService, provide(RecoveryService)]
ReportServiceDep = Annotated[ReportService, provide(ReportService)]
RunbookServiceDep = Annotated[RunbookService, provide(RunbookService)]
DOMAIN = "/protection-domains/{domain_id}"
ACTION = {"response_model": TaskRead, "status_code": 202, "responses": ACCEPTED}


@router.post(f"{DOMAIN}/actions/import", **ACTION)  # type: ignore[arg-type]
async def import_domain(
    domain_id: str,
    spec: ImportRequest,
    operator: OperatorUser,
    import_service: ImportServiceDep,
    response: Response,
) -> TaskRead:
    """At a recovery site, for a domain `scan-domains` found: the domain keeps its id and its
    owner; its VMs and recovery points are read from the container. Mode `imported`."""
    return accepted(response, await import_service.import_domain(domain_id, spec, operator))


@router.post(f"{DOMAIN}/actions/failover", **ACTION)  # type: ignore[arg-type]
async def failover(
    domain_id: str,
    spec: FailoverRequest,
    operator: OperatorUser,
    recovery_service: RecoveryServiceDep,
    response: Response,
) -> TaskRead:
    """Recover the domain at this site. `regular` uses the latest consistent point (or the one
    named), `forced` accepts an inconsistent one and a manifest that moved, `planned` first has
    the owner shut its VMs down and ship its log. `continuous` keeps rehydrating until
    `complete-failover`. 409 while another recovery runs or when this site owns the domain."""
    return accepted(response, await recovery_service.failover(domain_id, spec, operator))


@router.post(f"{DOMAIN}/actions/restore", **ACTION)  # type: ignore[arg-type]
async def restore(
    domain_id: str,
    operator: OperatorUser,
    recovery_service: RecoveryServiceDep,
    response: Response,
    spec: RestoreRequest | None = None,
) -> TaskRead:
    """Recover the domain here and make this site its primary and owner (task `restore`): for
    a primary site that is lost. The former owner is fenced by the new epoch; protection
    resumes from here into the same container. 409 while another recovery runs, when this site
    owns the domain or is already its primary, or when the owner still answers (unless
    `force`)."""
    return accepted(
        response, await recovery_service.restore(domain_id, spec or RestoreRequest(), operator)
    )


@router.post(f"{DOMAIN}/actions/complete-failover", **ACTION)  # type: ignore[arg-type]
async def complete_failover(
    domain_id: str,
    operator: OperatorUser,
    recovery_service: RecoveryServiceDep,
    response: Response,
    spec: Annotated[CompleteFailoverRequest | None, Body()] = None,
) -> TaskRead:
    """Recovers the latest consistent point (what the RocVA has been following), or the one
    chosen by `recovery_point_id` / `point_in_time` (a point-in-time recovery)."""
    return accepted(
        response,
        await recovery_service.complete_failover(
            domain_id, spec or CompleteFailoverRequest(), operator
        ),
    )


@router.post(f"{DOMAIN}/actions/test-failover", **ACTION)  # type: ignore[arg-type]
async def start_test_failover(
    domain_id: str,
    operator: OperatorUser,
    recovery_service: RecoveryServiceDep,
    response: Response,
    spec: Annotated[TestFailoverRequest | None, Body()] = None,
) -> TaskRead:
    """`jss-tvm-*` VMs from a recovery point on the test network; ownership does not move."""
    return accepted(
        response,
        await recovery_service.test_failover(domain_id, spec or TestFailoverRequest(), operator),
    )


@router.post(f"{DOMAIN}/actions/stop-test-failover", **ACTION)  # type: ignore[arg-type]
async def stop_test_failover(
    domain_id: str,
    spec: StopTestFailoverRequest,
    operator: OperatorUser,
    recovery_service: RecoveryServiceDep,
    response: Response,
) -> TaskRead:
    return accepted(response, await recovery_service.stop_test_failover(domain_id, spec, operator))


@router.post(f"{DOMAIN}/actions/failback", **ACTION)  # type: ignore[arg-type]
async def failback(
    domain_id: str,
    operator: OperatorUser,
    recovery_service: RecoveryServiceDep,
    response: Response,
    spec: Annotated[FailbackRequest | None, Body()] = None,
) -> TaskRead:
    """At the primary site: the owner shuts the VMs down and drains its log (a failback that
    waits longer than `max_delay_minutes` pauses), then the VMs come back here and protection
    runs in its original direction. 409 before any failover."""
    return accepted(
        response, await recovery_service.failback(domain_id, spec or FailbackRequest(), operator)
    )


@router.post(f"{DOMAIN}/actions/resume-failback", **ACTION)  # type: ignore[arg-type]
async def resume_failback(
    domain_id: str,
    operator: OperatorUser,
    recovery_service: RecoveryServiceDep,
    response: Response,
    spec: Annotated[FailbackRequest | None, Body()] = None,
) -> TaskRead:
    return accepted(response, await recovery_service.resume_failback(domain_id, spec, operator))


@router.post(f"{DOMAIN}/actions/complete-failback", **ACTION)  # type: ignore[arg-type]
async def complete_failback(
    domain_id: str,
    operator: OperatorUser,
    recovery_service: RecoveryServiceDep,
    response: Response,
    spec: Annotated[FailbackRequest | None, Body()] = None,
) -> TaskRead:
    """Hands over and fails back a continuous failback (`max_delay_minutes` as for `failback`)."""
    return accepted(response, await recovery_service.complete_failback(domain_id, operator, spec))


@router.post(f"{DOMAIN}/actions/release", **ACTION)  # type: ignore[arg-type]
async def release(
    domain_id: str,
    spec: ReleaseRequest,
    operator: OperatorUser,
    recovery_service: RecoveryServiceDep,
    response: Response,
) -> TaskRead:
    """Called by the peer appliance for a planned failover or a failback: shut the domain's VMs
    down, ship what the log holds, stop replicating; the task's result names the final
    recovery point. Asking again while it runs returns the same task."""
    return accepted(response, await recovery_service.release(domain_id, spec, operator))


@router.get(f"{DOMAIN}/runbook", response_model=RunbookRead)
async def get_runbook(
    domain_id: str,
    _user: CurrentUser,
    runbook_service: RunbookServiceDep,
) -> RunbookRead:
    return await runbook_service.runbook(domain_id)


@router.put(f"{DOMAIN}/runbook", response_model=RunbookRead)
async def put_runbook(
    domain_id: str,
    spec: RunbookUpdate,
    operator: OperatorUser,
    runbook_service: RunbookServiceDep,
) -> RunbookRead:
    """Startup order, delays, CPU/memory overrides, network mapping and IP settings of the
    recovered VMs; applies on failover and on failback."""
    return await runbook_service.put_runbook(domain_id, spec, operator)


@router.get("/recovery-reports", response_model=Page[RecoveryReportRead])
async def list_reports(
    _user: CurrentUser,
    report_service: ReportServiceDep,
    page: PageParams = paged(REPORT_SORT),
    domain_id: str | None = None,
    kind: str | None = None,
) -> Page[RecoveryReportRead]:
    result = await report_service.reports(domain_id, kind, page)
    return Page(items=list(result.items), meta=result.meta)


@router.get("/recovery-reports/{report_id}", response_model=RecoveryReportRead)
async def get_report(
    report_id: str,
    _user: CurrentUser,
    report_service: ReportServiceDep,
) -> RecoveryReportRead:
    return await report_service.report(report_id)
