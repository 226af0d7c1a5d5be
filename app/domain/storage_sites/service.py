"""Storage sites: where protection domains keep their containers. A site is saved only after
the appliance could connect to it with the given credentials."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.objectstore.errors import ObjectNotFound, ObjectStoreError
from app.adapters.objectstore.factory import StoreSpec, build_store
from app.adapters.objectstore.port import ObjectStore
from app.core.db import commit_unique, delete_once
from app.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from app.core.ids import new_id
from app.core.principal import Principal
from app.core.schemas import EntityRef
from app.core.security import SecretBox
from app.domain.events import service as events
from app.domain.platform import Platform
from app.domain.sites.identity import site_directory
from app.domain.storage_format.keys import RECOVERY_POINTS, epochs_of, generation_of
from app.domain.storage_format.manifest import (
    CorruptManifest,
    read_manifest,
)
from app.domain.storage_format.records import read_recovery_point
from app.domain.storage_sites import repository
from app.domain.storage_sites.models import StorageSite
from app.domain.storage_sites.schemas import FoundDomain, StorageSiteCreate, StorageSiteRead
from app.domain.usage import Used, refuse_in_use
from app.tasks.models import Task
from app.tasks.service import enqueue


def to_read(site: StorageSite) -> StorageSiteRead:
    return StorageSiteRead(
        id=site.id,
        name=site.name,
        type=site.type,
        endpoint=site.endpoint,
        account_name=site.account_name,
        has_access_key=site.access_key_encrypted is not None,
        bucket_prefix=site.bucket_prefix,
        region=site.region,
        path=site.path,
        created_at=site.created_at,
    )


def store_of(secrets: SecretBox, site: StorageSite) -> ObjectStore:
    key = secrets.decrypt(site.access_key_encrypted) if site.access_key_encrypted else None
    return build_store(
        StoreSpec(
            type=site.type,
            endpoint=site.endpoint,
            account_name=site.account_name,
            access_key=key,
            region=site.region,
            path=site.path,
        )
    )


async def latest_recovery_point(store: ObjectStore, container: str) -> str | None:
    """The newest entry of the container's recovery-point index."""
    keys = sorted(await store.list(container, RECOVERY_POINTS))
    if not keys:
        return None
    newest = keys[-1]
    point = await read_recovery_point(store, container, generation_of(newest), epochs_of(newest)[0])
    return str(point["timestamp"]) if point and point.get("timestamp") else None


async def scan(platform: Platform, site: StorageSite) -> list[FoundDomain]:
    """Domains found in the store: every `<prefix>-*` container with a readable manifest."""
    store = store_of(platform.secrets, site)
    async with platform.sessionmaker() as session:
        sites = await site_directory(session, platform)
    found = []
    for name in await store.list_containers(f"{site.bucket_prefix}-"):
        try:
            manifest = await read_manifest(store, name)
        except (ObjectNotFound, CorruptManifest):
            continue
        owner = manifest.owner(sites)
        found.append(
            FoundDomain(
                domain_id=manifest.domain_id,
                name=manifest.name or name,
                owner_site=owner,
                owner_site_name=sites.label(owner, manifest.labels),
                last_recovery_point_at=await latest_recovery_point(store, name),
                importable=owner != platform.state.local_site,
                container=name,
            )
        )
    return found


# Where no storage site may live: the system's own directories and what is under them.
SYSTEM_DIRECTORIES = tuple(
    Path(p)
    for p in ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/sbin", "/sys", "/usr")
)


def local_store_path(given: str | None, data_dir: Path) -> Path:
    """A local storage site's directory: absolute, resolved, and neither a system directory nor
    the appliance's data directory (but its `object-store`, the default). The messages name the
    rule broken, not what the filesystem holds."""
    default = (data_dir / "object-store").resolve()
    if given is None:
        return default

    def refuse(reason: str) -> ValidationFailed:
        return ValidationFailed(
            f"the path cannot hold a storage site: {reason}",
            field_errors=[FieldError("path", reason)],
        )

    if not given.startswith("/"):
        raise refuse("give an absolute path (no ~, no relative path)")
    path = Path(os.path.normpath(given))
    resolved = path.resolve()
    data = data_dir.resolve()
    if resolved == Path("/") or any(
        resolved == system or resolved.is_relative_to(system) for system in SYSTEM_DIRECTORIES
    ):
        raise refuse("a system directory")
    if (resolved == data or resolved.is_relative_to(data)) and not (
        resolved == default or resolved.is_relative_to(default)
    ):
        raise refuse("inside the appliance's data directory")
    return resolved


class StorageSiteService:
    def __init__(self, session: AsyncSession, platform: Platform) -> None:
        self.session = session
        self.platform = platform

    async def all(self) -> list[StorageSite]:
        return list(await repository.all_(self.session))

    async def get(self, site_id: str) -> StorageSite:
        site = await repository.get(self.session, site_id)
        if site is None:
            raise NotFound(f"storage site {site_id} does not exist")
        return site

    async def create(self, spec: StorageSiteCreate, actor: Principal) -> StorageSite:
        if await repository.name_taken(self.session, spec.name):
            raise Conflict(
                f"a storage site named {spec.name!r} exists", error_code="already_exists"
            )
        path = spec.path
        if spec.type == "local":
            path = str(local_store_path(path, self.platform.settings.data_dir))
        key = spec.access_key.get_secret_value() if spec.access_key else None
        try:
            # An SDK may refuse the settings before any call (a region it cannot parse).
            store = build_store(
                StoreSpec(spec.type, spec.endpoint, spec.account_name, key, spec.region, path)
            )
            await store.check()
        except ObjectStoreError as error:
            raise ValidationFailed(
                f"cannot use this storage site: {error.message}", error_code=error.error_code
            ) from error
        site = StorageSite(
            id=new_id("ss"),
            name=spec.name,
            type=spec.type,
            endpoint=spec.endpoint,
            account_name=spec.account_name,
            access_key_encrypted=self.platform.secrets.encrypt(key) if key else None,
            bucket_prefix=spec.bucket_prefix,
            region=spec.region,
            path=path,
            created_at=self.platform.clock.now(),
        )
        self.session.add(site)
        events.record(
            self.session,
            at=site.created_at,
            actor=actor.username,
            action="storage_site.created",
            message=f"{spec.type} storage site {spec.name} added",
            entity=("storage_site", site.id, site.name),
        )
        await commit_unique(
            self.session,
            Conflict(f"a storage site named {spec.name!r} exists", error_code="already_exists"),
        )
        return site

    async def delete(self, site_id: str, actor: Principal) -> None:
        site = await self.get(site_id)
        await refuse_in_use(self.session, self.platform, Used.STORAGE_SITE, site.id)
        if not await delete_once(self.session, site):
            raise NotFound(f"storage site {site_id} does not exist")
        events.record(
            self.session,
            at=self.platform.clock.now(),
            actor=actor.username,
            action="storage_site.deleted",
            message=f"storage site {site.name} removed (its containers are left untouched)",
            entity=("storage_site", site.id, site.name),
        )
        await self.session.commit()

    async def scan_domains(self, site_id: str, actor: Principal) -> Task:
        site = await self.get(site_id)
        task = enqueue(
            self.session,
            self.platform,
            "scan_domains",
            EntityRef(type="storage_site", id=site.id, name=site.name),
            actor.username,
        )
        await self.session.commit()
        self.platform.tasks.wake()
        return task
