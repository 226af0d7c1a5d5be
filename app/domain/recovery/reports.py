"""Recovery reports: one per recovery operation, with its VMs, its point and its RTO."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import (
    NotFound,
)
from app.core.pagination import PageParams, PageResult, SortOrder, paginate
from app.domain.platform import Platform
from app.domain.recovery import repository
from app.domain.recovery.models import RecoveryOperation
from app.domain.recovery.records import recovered_vms, runbook_log
from app.domain.recovery.schemas import (
    RecoveredVmRead,
    RecoveryReportRead,
    RunbookStageRead,
)
from app.domain.sites.identity import SiteDirectory, site_directory


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
        runbook=[
            RunbookStageRead.model_validate({k: v for k, v in stage.items() if k != "finished"})
            for stage in runbook_log(op)
        ],
    )


REPORT_SORT: dict[str, Any] = {
    "started_at": RecoveryOperation.started_at,
    "kind": RecoveryOperation.kind,
    "domain_id": RecoveryOperation.domain_id,
    "id": RecoveryOperation.id,
}


class ReportService:
    def __init__(self, session: AsyncSession, platform: Platform) -> None:
        self.session = session
        self.platform = platform

    async def reports(
        self, domain_id: str | None, kind: str | None, params: PageParams
    ) -> PageResult[RecoveryReportRead]:
        query = repository.operations(domain_id, kind)
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
