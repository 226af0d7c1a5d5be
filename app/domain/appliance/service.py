from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict
from app.core.principal import Principal
from app.domain.appliance import repository
from app.domain.appliance.models import Appliance
from app.domain.appliance.schemas import ApplianceRead, ApplianceUpdate
from app.domain.events import service as events
from app.domain.platform import Platform
from app.domain.sites.models import Site


class ApplianceService:
    def __init__(self, session: AsyncSession, platform: Platform) -> None:
        self.session = session
        self.platform = platform

    async def _load(self) -> tuple[Appliance, Site]:
        return await repository.appliance_and_site(self.session)

    @staticmethod
    def _read(appliance: Appliance, site: Site) -> ApplianceRead:
        return ApplianceRead(
            hostname=appliance.hostname,
            ip=appliance.ip,
            dns=list(appliance.dns),
            ntp=list(appliance.ntp),
            time_skew_seconds=appliance.time_skew_seconds,
            subscription_id=appliance.subscription_id,
            site_name=site.name,
            site_id=site.id,
            installed_at=appliance.installed_at,
            updated_at=appliance.updated_at,
        )

    async def get(self) -> ApplianceRead:
        return self._read(*await self._load())

    async def update(self, change: ApplianceUpdate, actor: Principal) -> ApplianceRead:
        appliance, site = await self._load()
        fields = change.model_dump(exclude_unset=True)
        # `null` means "no change" for what cannot be empty; `subscription_id: null` clears it.
        for required in ("hostname", "site_name", "dns", "ntp", "ip"):
            if fields.get(required, "") is None:
                fields.pop(required)
        if "site_name" in fields and fields["site_name"] != site.name:
            taken = await repository.site_named(self.session, fields["site_name"])
            if taken is not None:
                raise Conflict(f"a site named {fields['site_name']!r} already exists")
            site.name = fields.pop("site_name")
            self.platform.state.local_site_name = site.name
        fields.pop("site_name", None)
        if "ip" in fields:
            self.platform.state.ip_address = fields["ip"]
        for name, value in fields.items():
            setattr(appliance, name, value)
        now = self.platform.clock.now()
        appliance.updated_at = now
        events.record(
            self.session,
            at=now,
            actor=actor.username,
            action="appliance.updated",
            message=f"appliance settings changed: {', '.join(sorted(change.model_fields_set))}",
            entity=("site", site.id, site.name),
            details={"fields": sorted(change.model_fields_set)},
        )
        await self.session.commit()
        return self._read(appliance, site)


async def remember_clock(platform: Platform) -> None:
    """Record the virtual time, so that a restart does not take the clock back."""
    async with platform.sessionmaker() as session:
        await repository.set_clock(session, platform.clock.now())
        await session.commit()
