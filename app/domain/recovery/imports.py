"""Importing a protection domain another site owns, from the storage site both use: what is
checked before the `import_domain` task reads the container."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.objectstore.errors import ObjectNotFound, ObjectStoreError
from app.core.errors import (
    Conflict,
    FieldError,
    ServiceUnavailable,
    ValidationFailed,
)
from app.core.principal import Principal
from app.core.schemas import EntityRef
from app.domain.drvas import repository as drvas
from app.domain.drvas.models import Drva, ReplicationLogVolume
from app.domain.events import service as events
from app.domain.platform import Platform
from app.domain.protection_domains import repository as domains
from app.domain.protection_domains.models import (
    ProtectionDomain,
)
from app.domain.protection_domains.modes import DomainMode
from app.domain.recovery.schemas import (
    ImportRequest,
)
from app.domain.sites.identity import site_directory
from app.domain.storage_format.manifest import (
    CorruptManifest,
    read_manifest,
)
from app.domain.storage_sites.models import StorageSite
from app.domain.storage_sites.service import store_of
from app.tasks.models import Task
from app.tasks.service import enqueue


class ImportService:
    def __init__(self, session: AsyncSession, platform: Platform) -> None:
        self.session = session
        self.platform = platform

    async def import_domain(self, domain_id: str, spec: ImportRequest, actor: Principal) -> Task:
        if spec.domain_id is not None and spec.domain_id != domain_id:
            raise ValidationFailed(
                "the body's domain_id differs from the path's",
                field_errors=[FieldError("domain_id", "must equal the id in the path")],
            )
        if await self.session.get(ProtectionDomain, domain_id) is not None:
            raise Conflict(
                f"protection domain {domain_id} already exists at this site",
                error_code="already_exists",
            )
        site = await self.session.get(StorageSite, spec.storage_site_id)
        if site is None:
            raise ValidationFailed(
                "no such storage site",
                field_errors=[FieldError("storage_site_id", "no such storage site")],
            )
        container_name = f"{site.bucket_prefix}-{domain_id}"
        store = store_of(self.platform.secrets, site)
        try:
            manifest = await read_manifest(store, container_name)
        except (ObjectNotFound, CorruptManifest) as error:
            raise ValidationFailed(
                f"storage site {site.name} holds no domain {domain_id} (scan-domains lists them)",
                field_errors=[FieldError("domain_id", "not found on the storage site")],
            ) from error
        except ObjectStoreError as error:
            raise ServiceUnavailable(f"cannot read the storage site: {error.message}") from error
        sites = await site_directory(self.session, self.platform)
        found = manifest.sites(sites)
        owner = str(found["owner_site"])
        owner_name = sites.label(owner, manifest.labels)
        if owner == self.platform.state.local_site:
            raise Conflict(
                f"this site ({owner_name}) owns domain {domain_id}: there is nothing to import",
                error_code="invalid_state",
            )
        name = manifest.name or domain_id
        if await domains.name_taken(self.session, name):
            raise Conflict(f"a domain named {name!r} exists here", error_code="already_exists")
        drva, volume = await self._drva_and_volume(spec)
        now = self.platform.clock.now()
        domain = ProtectionDomain(
            id=domain_id,
            name=name,
            storage_site_id=site.id,
            drva_id=drva.id,
            replication_log_volume_id=volume.id,
            container=container_name,
            status="importing",
            mode=DomainMode.IMPORTED.value,
            health="ok",
            primary_site=str(found["primary_site"] or owner),
            recovery_site=self.platform.state.local_site,
            owner_site=owner,
            site_names=manifest.labels,
            replication_enabled=False,
            rpo_target_seconds=manifest.rpo_target_seconds,
            priority=manifest.priority,
            pitr_enabled=manifest.pitr_enabled,
            pitr_window_days=manifest.pitr_window_days,
            pitr_estimated_iops=manifest.pitr_estimated_iops,
            epoch=manifest.epoch,
            created_at=now,
            updated_at=now,
        )
        self.session.add(domain)
        task = enqueue(
            self.session,
            self.platform,
            "import_domain",
            EntityRef(type="protection_domain", id=domain_id, name=name),
            actor.username,
        )
        domain.active_task_id = task.id
        events.record(
            self.session,
            at=now,
            actor=actor.username,
            action="protection_domain.import_requested",
            message=f"import of protection domain {name} from storage site {site.name} "
            f"requested (owner: site {owner_name})",
            entity=("protection_domain", domain_id, name),
            task_id=task.id,
        )
        await self.session.commit()
        self.platform.tasks.wake()
        return task

    async def _drva_and_volume(self, spec: ImportRequest) -> tuple[Drva, ReplicationLogVolume]:
        """The DRVA and log that protect the domain once it runs here: the ones named, or the
        only running DRVA with a ready log volume."""
        volumes = list(await drvas.ready_volumes_of_running_drvas(self.session))
        if spec.drva_id is not None:
            volumes = [v for v in volumes if v.drva_id == spec.drva_id]
        if spec.replication_log_volume_id is not None:
            volumes = [v for v in volumes if v.id == spec.replication_log_volume_id]
        if len(volumes) != 1:
            problem = (
                "deploy a DRVA with a replication log volume at this site first"
                if not volumes
                else "several DRVAs or log volumes could protect it: name drva_id and "
                "replication_log_volume_id"
            )
            raise ValidationFailed(
                problem, field_errors=[FieldError("replication_log_volume_id", problem)]
            )
        drva = await self.session.get(Drva, volumes[0].drva_id)
        assert drva is not None
        return drva, volumes[0]
