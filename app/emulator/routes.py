"""`/_emulator`: controls for tests and demos, not part of the emulated product."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import AdminUser, ContainerDep
from app.emulator import service
from app.emulator.schemas import ClockAdvance, ClockRead, ClockUpdate, HealthRead, ResetRead

router = APIRouter()


@router.get("/health", response_model=HealthRead, tags=["emulator"])
async def health(container: ContainerDep) -> HealthRead:
    return HealthRead(status="ok", appliance_status=container.status.value)


@router.post("/reset", response_model=ResetRead, tags=["emulator"])
async def reset(_admin: AdminUser, container: ContainerDep) -> ResetRead:
    """Back to the seeded state: tasks stop, data and the simulated vCenter are re-seeded,
    the clock returns to its configured mode. Users and sessions are kept."""
    duration = await service.reset(container)
    return ResetRead(reset=True, duration_ms=round(duration, 3))


@router.get("/clock", response_model=ClockRead, tags=["emulator"])
async def get_clock(_admin: AdminUser, container: ContainerDep) -> ClockRead:
    return ClockRead.model_validate(container.clock.state(), from_attributes=True)


@router.put("/clock", response_model=ClockRead, tags=["emulator"])
async def put_clock(change: ClockUpdate, _admin: AdminUser, container: ContainerDep) -> ClockRead:
    state = service.configure_clock(container, change)
    return ClockRead.model_validate(state, from_attributes=True)


@router.post("/clock/advance", response_model=ClockRead, tags=["emulator"])
async def advance_clock(
    advance: ClockAdvance, _admin: AdminUser, container: ContainerDep
) -> ClockRead:
    state = container.clock.advance(advance.seconds)
    return ClockRead.model_validate(state, from_attributes=True)
