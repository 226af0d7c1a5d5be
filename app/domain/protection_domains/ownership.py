"""Who owns a protection domain: the manifest in its container says so. A site that learns
another took the domain over is fenced at once: its replication stops, and the domain's mode
says so, rather than at the replication engine's next look."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.objectstore.errors import ObjectNotFound, ObjectStoreError
from app.core.errors import InvalidState, ServiceUnavailable
from app.domain.platform import Platform
from app.domain.protection_domains.models import DomainReplication, ProtectionDomain
from app.domain.protection_domains.modes import DomainMode, can_move
from app.domain.sites.identity import site_directory
from app.domain.storage_format.manifest import Manifest, read_manifest
from app.domain.storage_sites.models import StorageSite
from app.domain.storage_sites.service import store_of


async def refresh_ownership(
    session: AsyncSession, platform: Platform, domain: ProtectionDomain
) -> Manifest:
    """Read the manifest: when another site took the domain over, this site learns it now
    (and is fenced) rather than at its replication engine's next look."""
    site = await session.get(StorageSite, domain.storage_site_id)
    if site is None:
        raise InvalidState(
            "the domain's storage site is gone", entity="storage_site", state="missing"
        )
    store = store_of(platform.secrets, site)
    local = platform.state.local_site
    try:
        manifest = await read_manifest(store, domain.container)
    except ObjectNotFound as error:
        raise InvalidState(
            f"container {domain.container} holds no manifest any more",
            entity="protection_domain",
            state=domain.mode,
        ) from error
    except ObjectStoreError as error:
        raise ServiceUnavailable(f"cannot read the domain's manifest: {error.message}") from error
    sites = await site_directory(session, platform)
    owner = manifest.owner(sites)
    epoch = manifest.epoch
    learnt = manifest.labels
    if learnt.items() - domain.site_names.items():
        domain.site_names = {**domain.site_names, **learnt}
    # A restore elsewhere made another site the primary: this one is no longer it.
    primary = manifest.sites(sites)["primary_site"]
    if primary is not None and primary != domain.primary_site:
        domain.primary_site = primary
    if owner != domain.owner_site or epoch > domain.epoch:
        if domain.owner_site == local and owner != local:
            repl = await session.get(DomainReplication, domain.id)
            if repl is not None and not repl.fenced:
                repl.fenced = True
                owner_name = sites.label(owner, domain.site_names)
                repl.last_error = f"fenced: site {owner_name} owns the domain at epoch {epoch}"
            if domain.replication_enabled:
                domain.replication_enabled = False
            if can_move(domain.mode, DomainMode.REPLICATION_DISABLED):
                domain.mode = DomainMode.REPLICATION_DISABLED.value
        domain.owner_site = owner
        if owner != local:
            domain.epoch = epoch
        await session.flush()
    return manifest
