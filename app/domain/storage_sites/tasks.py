from __future__ import annotations

from app.adapters.objectstore.errors import ObjectStoreError
from app.domain.storage_sites.models import StorageSite
from app.domain.storage_sites.service import scan
from app.tasks.registry import Step, TaskContext, TaskDefinition, TaskFailed


async def scan_store(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        site = await session.get(StorageSite, ctx.entity_id)
    if site is None:
        raise TaskFailed("not_found", f"storage site {ctx.entity_id} no longer exists")
    try:
        found = await scan(ctx.platform, site)
    except ObjectStoreError as error:
        raise TaskFailed(error.error_code, error.message) from error
    ctx.result["domains"] = [domain.model_dump() for domain in found]


SCAN_DOMAINS = TaskDefinition(type="scan_domains", steps=(Step("scan", scan_store),))
DEFINITIONS = (SCAN_DOMAINS,)
