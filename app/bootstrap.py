"""First boot: the local site, the appliance record and the `root` user."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from app.core.ids import ids, new_id
from app.core.security import generate_password, hash_password_off_loop, write_private_file
from app.domain.appliance.models import Appliance
from app.domain.auth.service import AuthService, Role
from app.domain.events import service as events
from app.domain.sites.models import Site
from app.domain.users.models import User
from app.domain.vcenters.service import refresh_cors_origins

if TYPE_CHECKING:
    from app.container import Container

logger = logging.getLogger(__name__)

ROOT_USERNAME = "root"
ROOT_PASSWORD_FILE = "root-password"  # noqa: S105 - a file name, not a password


def root_password(container: Container) -> tuple[str, bool]:
    """Root's first-boot password, and whether it was generated here."""
    settings = container.settings
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


async def seed_first_boot(container: Container) -> None:
    now = container.clock.now()
    settings = container.settings
    async with container.sessionmaker() as session:
        appliance = await session.get(Appliance, 1)
        if appliance is None:
            name = settings.site_name or container.topology.site_name
            site = Site(
                id=ids.named("site", f"{container.topology.site_name}/{name}"),
                name=name,
                role="local",
                created_at=now,
            )
            session.add(site)
            appliance = Appliance(
                id=1,
                hostname=settings.hostname,
                ip=container.ip_address,
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
            if appliance.clock_at is not None and appliance.clock_at > container.clock.now():
                container.clock.configure(now=appliance.clock_at)
                logger.info("virtual clock resumed at %s", appliance.clock_at.isoformat())
            found = await session.get(Site, appliance.local_site_id)
            assert found is not None, "the local site is created with the appliance row"
            site = found
            if settings.site_name and settings.site_name != appliance.site_name_setting:
                site.name = settings.site_name
                appliance.site_name_setting = settings.site_name
        container.local_site_id = site.id
        container.local_site_name = site.name

        root = await session.scalar(select(User).where(User.username == ROOT_USERNAME))
        if root is None:
            password, generated = await asyncio.to_thread(root_password, container)
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
            container.sessionmaker, container.auth_cache, container.clock
        ).purge_expired(session)
        await refresh_cors_origins(session, container)
    if container.simulator is not None:
        await container.simulator.state()


async def remember_clock(container: Container) -> None:
    """Record the virtual time, so that a restart does not take the clock back."""
    async with container.sessionmaker() as session:
        await session.execute(
            update(Appliance).where(Appliance.id == 1).values(clock_at=container.clock.now())
        )
        await session.commit()


async def refresh_process_state(container: Container) -> None:
    """What the process keeps in memory from the database (the local site, the address vCenter
    reaches it at, the origins CORS allows), read again after the data changed underneath it."""
    async with container.sessionmaker() as session:
        appliance = await session.get(Appliance, 1)
        assert appliance is not None, "the appliance row is created at first boot"
        site = await session.get(Site, appliance.local_site_id)
        assert site is not None
        container.local_site_id, container.local_site_name = site.id, site.name
        container.ip_address = appliance.ip
        await refresh_cors_origins(session, container)
