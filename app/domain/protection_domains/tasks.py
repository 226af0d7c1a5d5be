"""Creating and deleting a domain's container and manifest on its storage site."""

from __future__ import annotations

import contextlib
import json

from app.adapters.objectstore.errors import ObjectNotFound, ObjectStoreError
from app.adapters.objectstore.port import ObjectStore
from app.domain.events import service as events
from app.domain.protection_domains.models import ProtectionDomain
from app.domain.storage_sites.models import StorageSite
from app.domain.storage_sites.service import MANIFEST, store_of
from app.tasks.registry import Step, TaskContext, TaskDefinition, TaskFailed


async def _load(ctx: TaskContext) -> tuple[ProtectionDomain, ObjectStore]:
    async with ctx.sessionmaker() as session:
        domain = await session.get(ProtectionDomain, ctx.entity_id)
        if domain is None:
            raise TaskFailed("not_found", f"protection domain {ctx.entity_id} no longer exists")
        site = await session.get(StorageSite, domain.storage_site_id)
    if site is None:
        raise TaskFailed("not_found", "the domain's storage site no longer exists")
    return domain, store_of(ctx.container, site)


def manifest(domain: ProtectionDomain) -> bytes:
    return json.dumps(
        {
            "format": 1,
            "domain_id": domain.id,
            "name": domain.name,
            "owner_site": domain.owner_site,
            "primary_site": domain.primary_site,
            "epoch": domain.epoch,
            "rpo_target_seconds": domain.rpo_target_seconds,
            "priority": domain.priority,
            "pitr": {"enabled": domain.pitr_enabled, "window_days": domain.pitr_window_days},
            "last_recovery_point_at": None,
        },
        indent=2,
    ).encode()


async def create_container(ctx: TaskContext) -> None:
    domain, store = await _load(ctx)
    try:
        await store.create_container(domain.container)
        await store.put(domain.container, MANIFEST, manifest(domain))
    except ObjectStoreError as error:
        raise TaskFailed(error.error_code, error.message) from error
    ctx.result["container"] = domain.container


async def mark_ready(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        domain = await session.get(ProtectionDomain, ctx.entity_id)
        if domain is None:
            raise TaskFailed("not_found", "the domain no longer exists")
        domain.status = "ready"
        domain.active_task_id = None
        events.record(
            session,
            at=ctx.clock.now(),
            actor=ctx.actor,
            action="protection_domain.created",
            message=f"protection domain {domain.name} created in container {domain.container}",
            entity=("protection_domain", domain.id, domain.name),
            task_id=ctx.task_id,
        )
        await session.commit()


async def remove_container(ctx: TaskContext) -> None:
    domain, store = await _load(ctx)
    with contextlib.suppress(ObjectNotFound):
        for key in await store.list(domain.container):
            await store.delete(domain.container, key)
        await store.delete_container(domain.container)


async def forget_domain(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        domain = await session.get(ProtectionDomain, ctx.entity_id)
        if domain is None:
            return
        await session.delete(domain)
        events.record(
            session,
            at=ctx.clock.now(),
            actor=ctx.actor,
            action="protection_domain.deleted",
            message=f"protection domain {domain.name} and its container deleted",
            entity=("protection_domain", domain.id, domain.name),
            task_id=ctx.task_id,
        )
        await session.commit()


async def undo_create(ctx: TaskContext) -> None:
    with contextlib.suppress(TaskFailed, ObjectStoreError):
        await remove_container(ctx)
    await forget_domain(ctx)


async def release_domain(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        domain = await session.get(ProtectionDomain, ctx.entity_id)
        if domain is not None and domain.active_task_id == ctx.task_id:
            domain.active_task_id = None
            domain.status = "ready"
            await session.commit()


CREATE_DOMAIN = TaskDefinition(
    type="create_domain",
    steps=(Step("create_container", create_container, weight=2), Step("finalize", mark_ready)),
    compensate=undo_create,
)
DELETE_DOMAIN = TaskDefinition(
    type="delete_domain",
    steps=(Step("remove_container", remove_container, weight=2), Step("forget", forget_domain)),
    cancellable=False,
    compensate=release_domain,
)
DEFINITIONS = (CREATE_DOMAIN, DELETE_DOMAIN)
