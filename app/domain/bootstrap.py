"""First boot: the local site, the appliance record and the `root` user."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from app.core.ids import ids, new_id
from app.core.principal import Role
from app.core.security import generate_password, hash_password_off_loop, write_private_file
from app.domain.appliance.models import Appliance
from app.domain.auth.service import AuthCache, AuthService
from app.domain.events import service as events
from app.domain.sites.models import Site
from app.domain.users import repository as users
from app.domain.users.models import User
from app.domain.vcenters.service import refresh_cors_origins

if TYPE_CHECKING:
    from app.domain.platform import Platform

logger = logging.getLogger(__name__)

ROOT_USERNAME = "root"
ROOT_PASSWORD_FILE = "root-password"  # noqa: S105 - a file name, not a password


def root_password(platform: Platform) -> tuple[str, bool]:
    """Root's first-boot password, and whether it was generated here."""
    settings = platform.settings
    if settings.root_password is not None:
        return settings.root_password.get_secret_value(), False
    if settings.root_password_file is not None:
        return settings.root_password_file.read_text().strip(), False
    generated = settings.data_dir / ROOT_PASSWORD_FILE
    if generated.exists():
        return generated.read_text().strip(), False
    password = generate_password()
    write_private_file(generated, password + "\n")
    return password, True


async def seed_first_boot(platform: Platform) -> None:
    now = platform.clock.now()
    settings = platform.settings
    async with platform.sessionmaker() as session:
        appliance = await session.get(Appliance, 1)
        if appliance is None:
            name = settings.site_name or platform.topology.site_name
            site = Site(
                id=ids.named("site", f"{platform.topology.site_name}/{name}"),
                name=name,
                role="local",
                created_at=now,
            )
            session.add(site)
            appliance = Appliance(
                id=1,
                hostname=settings.hostname,
                ip=platform.state.ip_address,
                dns=[],
                ntp=[],
                local_site_id=site.id,
                site_name_setting=settings.site_name,
                installed_at=now,
                updated_at=now,
            )
            session.add(appliance)
            events.record(
                session,
                at=now,
                actor="system",
                action="appliance.installed",
                message=f"appliance installed as site {site.name}",
                entity=("site", site.id, site.name),
            )
        else:
            if appliance.clock_at is not None and appliance.clock_at > platform.clock.now():
                platform.clock.configure(now=appliance.clock_at)
                logger.info("virtual clock resumed at %s", appliance.clock_at.isoformat())
            found = await session.get(Site, appliance.local_site_id)
            assert found is not None, "the local site is created with the appliance row"
            site = found
            if settings.site_name and settings.site_name != appliance.site_name_setting:
                site.name = settings.site_name
                appliance.site_name_setting = settings.site_name
        platform.state.local_site_id = site.id
        platform.state.local_site_name = site.name

        root = await users.by_username(session, ROOT_USERNAME)
        if root is None:
            password, generated = await asyncio.to_thread(root_password, platform)
            root = User(
                id=new_id("user"),
                username=ROOT_USERNAME,
                role=Role.ADMIN.value,
                password_hash=await hash_password_off_loop(password),
                description="appliance administrator",
                is_builtin=True,
                created_at=now,
                updated_at=now,
            )
            session.add(root)
            events.record(
                session,
                at=now,
                actor="system",
                action="user.created",
                message="built-in user root created",
                entity=("user", root.id, root.username),
            )
            if generated:
                logger.warning(
                    "root password generated and written to %s",
                    settings.data_dir / ROOT_PASSWORD_FILE,
                )
        await session.commit()
        await AuthService(
            platform.sessionmaker, platform.worker(AuthCache), platform.clock
        ).purge_expired(session)
        await refresh_cors_origins(session, platform)
    if platform.simulator is not None:
        await platform.simulator.state()


async def refresh_process_state(platform: Platform) -> None:
    """What the process keeps in memory from the database (the local site, the address vCenter
    reaches it at, the origins CORS allows), read again after the data changed underneath it."""
    async with platform.sessionmaker() as session:
        appliance = await session.get(Appliance, 1)
        assert appliance is not None, "the appliance row is created at first boot"
        site = await session.get(Site, appliance.local_site_id)
        assert site is not None
        platform.state.local_site_id, platform.state.local_site_name = site.id, site.name
        platform.state.ip_address = appliance.ip
        await refresh_cors_origins(session, platform)
