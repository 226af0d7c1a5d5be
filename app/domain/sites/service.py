"""Sites: the local one, seeded at first boot, and peer appliances registered by an admin. A
peer is saved only after it answered over HTTPS with the given credentials."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.peer.port import PeerEndpoint, PeerError, PeerInfo
from app.core.db import commit_unique, delete_once
from app.core.errors import Conflict, InvalidState, NotFound, ValidationFailed
from app.core.ids import new_id
from app.core.principal import Principal
from app.core.security import SecretBox
from app.domain.events import service as events
from app.domain.platform import Platform
from app.domain.sites import repository
from app.domain.sites.models import Site


def endpoint_of(secrets: SecretBox, site: Site) -> PeerEndpoint:
    assert site.url is not None and site.username is not None
    return PeerEndpoint(
        url=site.url,
        username=site.username,
        password=secrets.decrypt(site.password_encrypted or ""),
        certificate_sha256=site.certificate_sha256,
    )


class SiteService:
    def __init__(self, session: AsyncSession, platform: Platform) -> None:
        self.session = session
        self.platform = platform

    async def get(self, site_id: str) -> Site:
        site = await self.session.get(Site, site_id)
        if site is None:
            raise NotFound(f"site {site_id} does not exist")
        return site

    async def _describe(self, endpoint: PeerEndpoint) -> PeerInfo:
        try:
            return await self.platform.peers.describe(endpoint)
        except PeerError as error:
            raise ValidationFailed(
                f"the peer appliance at {endpoint.url} cannot be used: {error.message}",
                error_code=error.error_code,
            ) from error

    async def add_peer(
        self,
        url: str,
        username: str,
        password: str,
        pin: str | None,
        actor: Principal,
        *,
        label: str | None = None,
    ) -> Site:
        endpoint = PeerEndpoint(url.rstrip("/"), username, password, pin)
        info = await self._describe(endpoint)
        if info.site_id == self.platform.state.local_site_id:
            raise ValidationFailed(
                f"the appliance at {url} is site {info.site_name}: this site itself",
                error_code="peer_is_local",
            )
        name = label or info.site_name
        existing = await repository.clashing_peer(self.session, info.site_id, endpoint.url, name)
        if existing is not None:
            raise Conflict(
                f"site {existing.name} at {existing.url} is already registered",
                error_code="already_exists",
            )
        now = self.platform.clock.now()
        site = Site(
            id=new_id("site"),
            name=name,
            role="remote",
            url=endpoint.url,
            username=username,
            password_encrypted=self.platform.secrets.encrypt(password),
            certificate_sha256=pin.replace(":", "").lower() if pin else None,
            peer_site_id=info.site_id,
            reachable=True,
            last_checked_at=now,
            created_at=now,
        )
        self.session.add(site)
        events.record(
            self.session,
            at=now,
            actor=actor.username,
            action="site.peer_added",
            message=f"peer site {info.site_name} at {endpoint.url} ({info.product} {info.version})",
            entity=("site", site.id, site.name),
        )
        await commit_unique(
            self.session,
            Conflict(f"site {name} is already registered", error_code="already_exists"),
        )
        return site

    async def check(self, site_id: str) -> Site:
        """Ask the peer again; `reachable` and `last_error` say how it went."""
        site = await self.get(site_id)
        if site.role != "remote":
            raise InvalidState("the local site is not a peer", entity="site", state=site.role)
        try:
            await self.platform.peers.describe(endpoint_of(self.platform.secrets, site))
        except PeerError as error:
            site.reachable, site.last_error = False, error.message[:1024]
        else:
            site.reachable, site.last_error = True, None
        site.last_checked_at = self.platform.clock.now()
        await self.session.commit()
        return site

    async def delete(self, site_id: str, actor: Principal) -> None:
        site = await self.get(site_id)
        if site.role == "local":
            raise InvalidState("the local site cannot be removed", entity="site", state=site.role)
        if not await delete_once(self.session, site):
            raise NotFound(f"site {site_id} does not exist")
        events.record(
            self.session,
            at=self.platform.clock.now(),
            actor=actor.username,
            action="site.peer_removed",
            message=f"peer site {site.name} at {site.url} removed",
            entity=("site", site.id, site.name),
        )
        await self.session.commit()
