"""A task on a protection domain: one at a time, started only from `ready` (else 409)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.principal import Principal
from app.core.schemas import EntityRef
from app.domain.platform import Platform
from app.domain.protection_domains.models import ProtectionDomain
from app.tasks.models import Task
from app.tasks.service import start_guarded


async def start_on_domain(
    session: AsyncSession,
    platform: Platform,
    domain: ProtectionDomain,
    task_type: str,
    target: str,
    actor: Principal,
    params: dict[str, Any] | None = None,
    still_wanted: Callable[[AsyncSession], Awaitable[None]] | None = None,
) -> Task:
    """Start `task_type` with the domain's status at `target` while it runs, if no other task
    holds the domain (`still_wanted` is checked again once the domain is held)."""
    return await start_guarded(
        session,
        platform,
        model=ProtectionDomain,
        entity=EntityRef(type="protection_domain", id=domain.id, name=domain.name),
        task_type=task_type,
        target=target,
        sources=["ready"],
        actor=actor.username,
        params=params,
        still_wanted=still_wanted,
    )
