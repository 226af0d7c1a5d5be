from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, NotFound
from app.core.principal import Principal
from app.domain.appliance import repository, subscription
from app.domain.appliance.models import DAEMONS, Appliance
from app.domain.appliance.schemas import (
    ApplianceRead,
    ApplianceUpdate,
    DaemonRead,
    SubscriptionRead,
    SubscriptionUpdate,
)
from app.domain.appliance.subscription import Subscription, reconcile_alarms
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
            vm_name=appliance.vm_name,
            cpu_count=appliance.cpu_count,
            memory_gb=appliance.memory_gb,
            sshd_enabled=appliance.sshd_enabled,
            daemons=[
                DaemonRead(
                    name=name,
                    status="running",
                    restarted_at=_parse(appliance.daemon_restarts.get(name)),
                )
                for name in DAEMONS
            ],
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
        if "subscription_id" in fields:
            await reconcile_alarms(self.session, _subscription(appliance), now)
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

    async def set_sshd(self, enabled: bool, actor: Principal) -> ApplianceRead:
        appliance, site = await self._load()
        appliance.sshd_enabled = enabled
        self._changed(
            appliance, site, actor, "appliance.sshd", f"sshd {'started' if enabled else 'stopped'}"
        )
        await self.session.commit()
        return self._read(appliance, site)

    async def restart_daemons(self, name: str | None, actor: Principal) -> ApplianceRead:
        if name is not None and name not in DAEMONS:
            raise NotFound(
                f"no daemon named {name!r}; the appliance runs {', '.join(DAEMONS)}",
                error_code="daemon_not_found",
            )
        appliance, site = await self._load()
        now = self.platform.clock.now()
        names = [name] if name is not None else list(DAEMONS)
        appliance.daemon_restarts = {
            **appliance.daemon_restarts,
            **{daemon: now.isoformat() for daemon in names},
        }
        self._changed(
            appliance, site, actor, "appliance.daemon_restarted", f"restarted {', '.join(names)}"
        )
        await self.session.commit()
        return self._read(appliance, site)

    def _changed(
        self, appliance: Appliance, site: Site, actor: Principal, action: str, message: str
    ) -> None:
        now = self.platform.clock.now()
        appliance.updated_at = now
        events.record(
            self.session,
            at=now,
            actor=actor.username,
            action=action,
            message=message,
            entity=("site", site.id, site.name),
        )

    async def subscription(self) -> SubscriptionRead:
        appliance, _site = await self._load()
        return _subscription_read(_subscription(appliance), self.platform.clock.now())

    async def change_subscription(
        self, change: SubscriptionUpdate, actor: Principal
    ) -> SubscriptionRead:
        appliance, site = await self._load()
        now = self.platform.clock.now()
        previous, appliance.subscription_id = appliance.subscription_id, change.subscription_id
        appliance.updated_at = now
        subscription = _subscription(appliance)
        await reconcile_alarms(self.session, subscription, now)
        events.record(
            self.session,
            at=now,
            actor=actor.username,
            action="subscription.changed",
            message=f"subscription id changed from {previous or 'none'} to "
            f"{change.subscription_id or 'none'}",
            entity=("site", site.id, site.name),
        )
        await self.session.commit()
        return _subscription_read(subscription, now)

    async def report_expiry(self, expires_at: dt.datetime | None) -> SubscriptionRead:
        """The subscription server's answer changed (the emulator plays that server): a later
        expiry reinstates a lapsed subscription, whose domains then resync from their bitmaps."""
        appliance, site = await self._load()
        now = self.platform.clock.now()
        appliance.subscription_expires_at = expires_at
        subscription = _subscription(appliance)
        await reconcile_alarms(self.session, subscription, now)
        events.record(
            self.session,
            at=now,
            actor="system",
            action="subscription.checked",
            message="the subscription server reports "
            + (f"an expiry at {expires_at.isoformat()}" if expires_at else "no expiry"),
            entity=("site", site.id, site.name),
        )
        await self.session.commit()
        return _subscription_read(subscription, now)


def _parse(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def _subscription(appliance: Appliance) -> Subscription:
    return Subscription(appliance.subscription_id, appliance.subscription_expires_at)


def _subscription_read(subscription: Subscription, now: dt.datetime) -> SubscriptionRead:
    return SubscriptionRead(
        subscription_id=subscription.subscription_id,
        status=subscription.status(now),
        expires_at=subscription.expires_at,
        grace_ends_at=subscription.grace_ends_at,
    )


async def remember_clock(platform: Platform) -> None:
    """Record the virtual time, so that a restart does not take the clock back, and raise or
    clear the subscription's alarms for that time. Both in one transaction: the clock's write
    comes first and holds the appliance row, so a concurrent change of the subscription is
    either wholly before this reading of it or waits for it.

    Shielded: a cancelled caller (the engine stopped for a reset) must not abandon the
    transaction while it holds SQLite's write lock; it ends in milliseconds either way."""
    await asyncio.shield(_remember_clock(platform))


async def _remember_clock(platform: Platform) -> None:
    async with platform.sessionmaker() as session:
        now = platform.clock.now()
        await repository.set_clock(session, now)
        current = await subscription.current(session)
        if current.subscription_id is not None:
            await subscription.reconcile_alarms(session, current, now)
        await session.commit()
