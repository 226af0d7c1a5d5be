"""`GET /metrics`: Prometheus text format (authenticated like every route; Prometheus sends HTTP
Basic). Request figures come from memory since start; the rest is read from the database at
each scrape."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import CurrentUser, PlatformDep, SessionDep
from app.api.observer import RequestObserver, escape_label
from app.domain.alarms.models import Alarm
from app.domain.platform import Platform
from app.domain.protection_domains.health import health
from app.domain.protection_domains.models import DomainReplication, ProtectedVm, ProtectionDomain
from app.tasks.leadership import Leadership
from app.tasks.models import Task

router = APIRouter(tags=["metrics"])
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _gauge(name: str, help_text: str, samples: list[tuple[str, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    lines += [
        f"{name}{{{labels}}} {value}" if labels else f"{name} {value}" for labels, value in samples
    ]
    return lines


async def _state(session: AsyncSession, platform: Platform) -> list[str]:
    now = platform.clock.timestamp()
    tasks = await session.execute(
        select(Task.type, Task.status, func.count()).group_by(Task.type, Task.status)
    )
    alarms = await session.execute(
        select(Alarm.type, func.count()).where(Alarm.cleared_at.is_(None)).group_by(Alarm.type)
    )
    domains = await session.execute(
        select(ProtectionDomain, DomainReplication).outerjoin(
            DomainReplication, DomainReplication.domain_id == ProtectionDomain.id
        )
    )
    vms = await session.scalar(select(func.count()).select_from(ProtectedVm))
    rpo, usage, healthy, modes = [], [], [], []
    for domain, repl in domains.all():
        labels = f'domain="{domain.id}",name="{escape_label(domain.name)}"'
        modes.append((f'{labels},mode="{domain.mode}"', 1.0))
        healthy.append((f'{labels},health="{health(repl, domain, now)}"', 1.0))
        if repl is None:
            continue
        if repl.last_recovery_point_at is not None:
            rpo.append((labels, round(now - repl.last_recovery_point_at.timestamp(), 3)))
        if repl.log_capacity_bytes:
            usage.append((labels, round(repl.log_used_bytes / repl.log_capacity_bytes, 6)))
    return [
        *_gauge("jetdr_up", "1 while the appliance answers.", [("", 1.0)]),
        *_gauge(
            "jetdr_scheduler_leader",
            "1 when this process runs the clock-driven work (one process per database).",
            [
                (
                    f'node="{escape_label(platform.state.node_id)}"',
                    float(platform.worker(Leadership).is_leader),
                )
            ],
        ),
        *_gauge("jetdr_virtual_clock_seconds", "The virtual clock, Unix seconds.", [("", now)]),
        *_gauge(
            "jetdr_tasks",
            "Tasks by type and status.",
            [(f'type="{t}",status="{s}"', float(n)) for t, s, n in tasks.all()],
        ),
        *_gauge(
            "jetdr_alarms_active",
            "Alarms raised and not cleared, by type.",
            [(f'type="{t}"', float(n)) for t, n in alarms.all()],
        ),
        *_gauge("jetdr_protected_vms", "VMs in protection domains.", [("", float(vms or 0))]),
        *_gauge("jetdr_domain_mode", "1 for each domain's current mode.", modes),
        *_gauge("jetdr_domain_health", "1 for each domain's current health.", healthy),
        *_gauge(
            "jetdr_domain_rpo_seconds", "Virtual seconds since the latest recovery point.", rpo
        ),
        *_gauge(
            "jetdr_replication_log_usage_ratio", "Replication log used over its capacity.", usage
        ),
    ]


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(
    _user: CurrentUser, session: SessionDep, platform: PlatformDep
) -> PlainTextResponse:
    lines = [*platform.worker(RequestObserver).exposition(), *await _state(session, platform)]
    return PlainTextResponse("\n".join(lines) + "\n", media_type=CONTENT_TYPE)
