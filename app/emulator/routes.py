"""`/_emulator`: controls for tests and demos, not part of the emulated product."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import AdminUser, PlatformDep, SessionDep
from app.api.observer import RequestObserver
from app.core.errors import AppError, NotFound
from app.core.faults import FaultRule
from app.domain.appliance.schemas import SubscriptionRead
from app.domain.appliance.service import ApplianceService, remember_clock
from app.domain.recovery import digests
from app.domain.replication.engine import ReplicationEngine
from app.domain.replication.schemas import DigestRead
from app.emulator import service, snapshots
from app.emulator.schemas import (
    ClockAdvance,
    ClockRead,
    ClockUpdate,
    FaultCreate,
    FaultRead,
    HealthRead,
    JournalRead,
    ResetRead,
    SnapshotLoad,
    SnapshotLoaded,
    SnapshotRead,
    SnapshotSave,
    SubscriptionReport,
)

router = APIRouter()


@router.get("/openapi.json", include_in_schema=False)
async def emulator_openapi(_admin: AdminUser, request: Request) -> dict[str, Any]:
    """The control plane's own OpenAPI document (admins only, like the controls)."""
    schema: dict[str, Any] = request.app.openapi()
    return schema


@router.get("/health", response_model=HealthRead, tags=["emulator"])
async def health(platform: PlatformDep) -> HealthRead:
    return HealthRead(status="ok", appliance_status=platform.state.status.value)


@router.post("/reset", response_model=ResetRead, tags=["emulator"])
async def reset(_admin: AdminUser, platform: PlatformDep) -> ResetRead:
    """Back to the seeded state: tasks stop, data and the simulated vCenter are re-seeded,
    the clock returns to its configured mode. Users and sessions are kept."""
    duration = await service.reset(platform)
    return ResetRead(reset=True, duration_ms=round(duration, 3))


@router.get("/clock", response_model=ClockRead, tags=["emulator"])
async def get_clock(_admin: AdminUser, platform: PlatformDep) -> ClockRead:
    return ClockRead.model_validate(platform.clock.state(), from_attributes=True)


@router.put("/clock", response_model=ClockRead, tags=["emulator"])
async def put_clock(change: ClockUpdate, _admin: AdminUser, platform: PlatformDep) -> ClockRead:
    state = service.configure_clock(platform, change)
    await remember_clock(platform)
    return ClockRead.model_validate(state, from_attributes=True)


@router.post("/clock/advance", response_model=ClockRead, tags=["emulator"])
async def advance_clock(
    advance: ClockAdvance, _admin: AdminUser, platform: PlatformDep
) -> ClockRead:
    """Moves virtual time forward. With `settle` (the default) the answer waits until the
    replication engine has run every domain up to the new time, so what a test reads next is
    the state at that time."""
    state = service.advance_clock(platform, advance.seconds)
    if advance.settle:
        await platform.worker(ReplicationEngine).settle()
    else:
        await remember_clock(platform)
    return ClockRead.model_validate(state, from_attributes=True)


@router.put("/subscription", response_model=SubscriptionRead, tags=["emulator"])
async def report_subscription(
    report: SubscriptionReport, _admin: AdminUser, session: SessionDep, platform: PlatformDep
) -> SubscriptionRead:
    """Plays the subscription server: the expiry it reports for the appliance's subscription. A
    lapsed subscription's domains turn to bitmaps at the engine's next step; a later expiry
    reinstates it and they resync."""
    return await ApplianceService(session, platform).report_expiry(report.expires_at)


@router.get("/faults", response_model=list[FaultRead], tags=["emulator"])
async def list_faults(_admin: AdminUser, platform: PlatformDep) -> list[FaultRead]:
    return [FaultRead.model_validate(rule, from_attributes=True) for rule in platform.faults.rules]


@router.post("/faults", response_model=FaultRead, status_code=201, tags=["emulator"])
async def add_fault(spec: FaultCreate, _admin: AdminUser, platform: PlatformDep) -> FaultRead:
    """Fail (`error`), slow down (`latency`, virtual milliseconds) or hold (`hang`, until the
    rule is deleted) a task step; fail vCenter calls (`vcenter_fault`); make ESXi hosts stop
    responding (`host_unreachable`) or run without CIM (`cim_stopped`; both simulated vCenter
    only); cut a storage site off (`objectstore_outage`, until the rule is deleted); crash DRVAs
    (`drva_crash`: their VMs power off now; `POST /api/v1/drvas/{id}/actions/restart` brings
    them back)."""
    rule = FaultRule(**spec.model_dump())
    if rule.kind == "drva_crash":
        rule.hits = len(await service.crash_drvas(platform, rule.target))
    platform.faults.add(rule)
    if rule.kind in service.HOST_FAULTS:
        try:
            rule.hits = (await service.apply_host_faults(platform))[rule.kind]
        except AppError:
            platform.faults.remove(rule.id)
            raise
    return FaultRead.model_validate(rule, from_attributes=True)


@router.delete("/faults", status_code=204, tags=["emulator"])
async def clear_faults(_admin: AdminUser, platform: PlatformDep) -> Response:
    platform.faults.clear()
    await service.apply_host_faults(platform)
    return Response(status_code=204)


@router.delete("/faults/{fault_id}", status_code=204, tags=["emulator"])
async def delete_fault(fault_id: str, _admin: AdminUser, platform: PlatformDep) -> Response:
    rule = platform.faults.remove(fault_id)
    if rule is None:
        raise NotFound(f"fault rule {fault_id} does not exist")
    if rule.kind in service.HOST_FAULTS:
        await service.apply_host_faults(platform)
    return Response(status_code=204)


@router.post("/state/save", response_model=SnapshotRead, status_code=201, tags=["emulator"])
async def save_state(spec: SnapshotSave, _admin: AdminUser, platform: PlatformDep) -> Any:
    """Every table but users and sessions, and the virtual clock, as `<data dir>/snapshots/
    <name>.json`. Objects in storage sites are not included."""
    return await snapshots.save(platform, spec.name, spec.overwrite)


@router.post("/state/load", response_model=SnapshotLoaded, tags=["emulator"])
async def load_state(spec: SnapshotLoad, _admin: AdminUser, platform: PlatformDep) -> Any:
    """Back to a saved state: tasks and background work stop, the tables and the clock are
    replaced, then tasks that were running resume. 409 `snapshot_incompatible` for a snapshot
    of another format or schema revision."""
    return await snapshots.load(platform, spec.name)


@router.get("/state/snapshots", response_model=list[SnapshotRead], tags=["emulator"])
async def list_snapshots(_admin: AdminUser, platform: PlatformDep) -> Any:
    return await snapshots.listing(platform)


@router.delete("/state/snapshots/{name}", status_code=204, tags=["emulator"])
async def delete_snapshot(name: str, _admin: AdminUser, platform: PlatformDep) -> Response:
    await snapshots.delete(platform, name)
    return Response(status_code=204)


@router.get("/vcenter", tags=["emulator"])
async def simulated_vcenter(_admin: AdminUser, platform: PlatformDep) -> dict[str, Any]:
    """The simulated vCenter as vCenter itself sees it, whether or not the appliance is
    registered with it: extensions, IO filters by cluster, roles, global permissions."""
    if platform.simulator is None:
        raise NotFound("the appliance runs the vsphere backend: look at the real vCenter")
    return await platform.simulator.summary()


@router.get("/requests", response_model=list[JournalRead], tags=["emulator"])
async def list_requests(
    _admin: AdminUser,
    platform: PlatformDep,
    limit: int = Query(default=100, ge=1, le=1000),
    method: str | None = None,
    path_prefix: str | None = None,
    status: int | None = None,
) -> Any:
    """The most recent requests first (the journal keeps the last 1,000)."""
    found = []
    for entry in reversed(platform.worker(RequestObserver).journal):
        if method is not None and entry.method != method.upper():
            continue
        if path_prefix is not None and not entry.path.startswith(path_prefix):
            continue
        if status is not None and entry.status != status:
            continue
        found.append(entry)
        if len(found) >= limit:
            break
    return found


@router.delete("/requests", status_code=204, tags=["emulator"])
async def clear_requests(_admin: AdminUser, platform: PlatformDep) -> Response:
    platform.worker(RequestObserver).clear_journal()
    return Response(status_code=204)


@router.get("/vms/{vm_id}/disk-digest", response_model=DigestRead, tags=["emulator"])
async def source_disk_digest(
    vm_id: str,
    _admin: AdminUser,
    session: SessionDep,
    platform: PlatformDep,
    at: dt.datetime | None = None,
) -> DigestRead:
    """The protected VM's source disks at `at` (default: now), recomputed from the
    deterministic write generator."""
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return await digests.source_digest(session, platform, vm_id, at)


@router.get("/vms/{vm_id}/replica-digest", response_model=DigestRead, tags=["emulator"])
async def replica_disk_digest(
    vm_id: str,
    _admin: AdminUser,
    session: SessionDep,
    platform: PlatformDep,
    recovery_point_id: str | None = None,
) -> DigestRead:
    """The VM's disks rebuilt from the object store alone (checkpoint and segments) at a
    recovery point (default: the latest). Equal to `disk-digest?at=<its timestamp>` when
    nothing was lost."""
    return await digests.replica_digest(session, platform, vm_id, recovery_point_id)
