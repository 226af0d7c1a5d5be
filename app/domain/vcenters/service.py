"""Registering this appliance with a vCenter, and the actions on that registration."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.vcenter.errors import VCenterError
from app.adapters.vcenter.port import Endpoint
from app.core.db import commit_unique
from app.core.errors import AppError, Conflict, InvalidState, NotFound, ServiceUnavailable
from app.core.ids import new_id
from app.core.principal import Principal
from app.core.schemas import EntityRef
from app.core.security import SecretBox
from app.domain.events import service as events
from app.domain.inventory import repository as inventory
from app.domain.platform import Platform
from app.domain.plugin.package import PLUGIN_KEY
from app.domain.vcenters import repository
from app.domain.vcenters.models import VCenter
from app.domain.vcenters.schemas import (
    PermissionsRead,
    PluginRead,
    ServiceAccounts,
    VCenterCreate,
    VCenterRead,
)
from app.domain.vcenters.states import VCenterStatus, sources_for
from app.tasks.models import Task
from app.tasks.service import enqueue, start_guarded


def endpoint_of(secrets: SecretBox, vcenter: VCenter) -> Endpoint:
    """How to log in to a registered vCenter (its password decrypted for the call only)."""
    return Endpoint(
        hostname=vcenter.hostname,
        port=vcenter.port,
        username=vcenter.username,
        password=secrets.decrypt(vcenter.password_encrypted),
    )


def origin(vcenter: VCenter) -> str:
    """The browser origin of a vCenter's UI (the plugin UI runs there)."""
    return f"https://{vcenter.hostname}" + ("" if vcenter.port == 443 else f":{vcenter.port}")


async def refresh_cors_origins(session: AsyncSession, platform: Platform) -> None:
    registered = [
        v for v in await repository.all_(session) if v.status != VCenterStatus.REGISTERING.value
    ]
    platform.state.cors_origins = frozenset(origin(v) for v in registered)


def to_read(vcenter: VCenter) -> VCenterRead:
    return VCenterRead(
        id=vcenter.id,
        hostname=vcenter.hostname,
        port=vcenter.port,
        username=vcenter.username,
        version=vcenter.version,
        build=vcenter.build,
        status=vcenter.status,
        plugin=PluginRead(
            key=vcenter.plugin_key,
            version=vcenter.plugin_version,
            registered=vcenter.plugin_registered,
        ),
        register_with_ip=vcenter.register_with_ip,
        active_task_id=vcenter.active_task_id,
        last_error=vcenter.last_error,
        inventory_refreshed_at=vcenter.inventory_refreshed_at,
        created_at=vcenter.created_at,
    )


class VCenterService:
    def __init__(self, session: AsyncSession, platform: Platform) -> None:
        self.session = session
        self.platform = platform

    async def all(self) -> list[VCenter]:
        return list(await repository.all_(self.session))

    async def get(self, vcenter_id: str) -> VCenter:
        vcenter = await repository.get(self.session, vcenter_id)
        if vcenter is None:
            raise NotFound(f"vCenter {vcenter_id} is not registered with this appliance")
        return vcenter

    async def register(self, spec: VCenterCreate, actor: Principal) -> Task:
        existing = await repository.all_(self.session)
        if existing:
            raise _already_registered(existing[0])
        now = self.platform.clock.now()
        vcenter = VCenter(
            id=new_id("vc"),
            slot=1,
            hostname=spec.hostname,
            port=spec.port,
            username=spec.username,
            password_encrypted=self.platform.secrets.encrypt(spec.password.get_secret_value()),
            register_with_ip=spec.register_with_ip,
            status=VCenterStatus.REGISTERING.value,
            plugin_key=PLUGIN_KEY,
            plugin_registered=False,
            created_at=now,
            updated_at=now,
        )
        self.session.add(vcenter)
        task = enqueue(
            self.session, self.platform, "register_vcenter", self._entity(vcenter), actor.username
        )
        vcenter.active_task_id = task.id
        events.record(
            self.session,
            at=now,
            actor=actor.username,
            action="vcenter.register_requested",
            message=f"registration of vCenter {spec.hostname} requested",
            entity=("vcenter", vcenter.id, vcenter.hostname),
            task_id=task.id,
        )

        async def registered_meanwhile() -> AppError | None:
            current = await repository.all_(self.session)
            return _already_registered(current[0]) if current else None

        await commit_unique(self.session, registered_meanwhile)
        self.platform.tasks.wake()
        return task

    async def unregister(self, vcenter_id: str, force: bool, actor: Principal) -> Task:
        vcenter = await self.get(vcenter_id)
        configured = await inventory.configured_clusters(self.session, vcenter.id)
        if configured and not force:
            raise InvalidState(
                "clusters are still configured for JetStream DR; unconfigure them first "
                "or pass force=true",
                entity="vcenter",
                state=vcenter.status,
                details=[
                    {"entity": "vcenter", "state": vcenter.status},
                    *(
                        {"cluster_id": c.id, "cluster": c.name, "status": c.status}
                        for c in configured
                    ),
                ],
            )
        return await self._start(
            vcenter, "unregister_vcenter", VCenterStatus.UNREGISTERING, actor, {"force": force}
        )

    async def refresh_inventory(self, vcenter_id: str, actor: Principal) -> Task:
        vcenter = await self.get(vcenter_id)
        return await self._start(vcenter, "refresh_inventory", VCenterStatus.REGISTERED, actor)

    async def register_plugin(self, vcenter_id: str, actor: Principal) -> Task:
        vcenter = await self.get(vcenter_id)
        return await self._start(vcenter, "register_plugin", VCenterStatus.REGISTERED, actor)

    async def unregister_plugin(self, vcenter_id: str, actor: Principal) -> Task:
        vcenter = await self.get(vcenter_id)
        if not vcenter.plugin_registered:
            raise Conflict(
                "the plugin is not registered in this vCenter", error_code="plugin_not_registered"
            )
        return await self._start(vcenter, "unregister_plugin", VCenterStatus.REGISTERED, actor)

    async def service_accounts(
        self, vcenter_id: str, spec: ServiceAccounts, actor: Principal, *, create: bool
    ) -> Task:
        vcenter = await self.get(vcenter_id)
        task_type = "create_service_accounts" if create else "remove_service_accounts"
        return await self._start(
            vcenter, task_type, VCenterStatus.REGISTERED, actor, spec.model_dump()
        )

    async def permissions(self, vcenter_id: str) -> PermissionsRead:
        vcenter = await self.get(vcenter_id)
        try:
            session = await self.platform.vcenter.connect(
                endpoint_of(self.platform.secrets, vcenter)
            )
            try:
                roles = await session.role_names()
                granted = await session.global_permissions()
            finally:
                await session.logout()
        except VCenterError as error:
            raise ServiceUnavailable(
                f"cannot read vCenter's permissions: {error.message}"
            ) from error
        return PermissionsRead(roles=list(roles), global_permissions=dict(granted))

    async def _start(
        self,
        vcenter: VCenter,
        task_type: str,
        target: VCenterStatus,
        actor: Principal,
        params: dict[str, Any] | None = None,
    ) -> Task:
        return await start_guarded(
            self.session,
            self.platform,
            model=VCenter,
            entity=self._entity(vcenter),
            task_type=task_type,
            target=target.value,
            sources=sources_for(target),
            actor=actor.username,
            params=params,
        )

    @staticmethod
    def _entity(vcenter: VCenter) -> EntityRef:
        return EntityRef(type="vcenter", id=vcenter.id, name=vcenter.hostname)


def _already_registered(existing: VCenter) -> Conflict:
    return Conflict(
        f"this appliance is already registered with vCenter {existing.hostname} "
        "(one vCenter per appliance)",
        error_code="already_registered",
        details=[
            {"vcenter_id": existing.id, "hostname": existing.hostname, "status": existing.status}
        ],
    )
