"""A simulated vCenter: inventory seeded from a topology file, state kept in the appliance DB.

It behaves like a vCenter seen through the port: it refuses unknown hostnames and wrong
credentials, reports its version and server time (from the virtual clock, plus the topology's
skew), serves its inventory and keeps registered extensions.
"""

from __future__ import annotations

from app.adapters.vcenter.errors import VCenterConflict, VCenterNotFound
from app.adapters.vcenter.port import About, Endpoint, Extension, HostInfo, Inventory
from app.adapters.vcenter.simulated.backend import SimulatedBackend
from app.adapters.vcenter.simulated.iofilters import IoFilters
from app.adapters.vcenter.simulated.state import SimulatedState
from app.adapters.vcenter.simulated.vms import Vms


class SimulatedVCenter(SimulatedBackend):
    """The simulated backend of `VCenterPort`."""

    async def connect(self, endpoint: Endpoint) -> SimulatedSession:
        await self.authenticate(endpoint)
        return SimulatedSession(self)


class SimulatedSession(IoFilters, Vms):
    """A session on the simulated vCenter, in parts by what it manages."""

    async def about(self) -> About:
        self._check()
        spec = self._backend.topology.vcenter
        return About(
            version=spec.version,
            build=spec.build,
            api_version=spec.api_version,
            instance_uuid=spec.instance_uuid,
            server_time=self._backend.server_time(),
        )

    async def inventory(self) -> Inventory:
        self._check()
        state = await self._backend.state()
        return Inventory(
            clusters=tuple(state.clusters),
            hosts=tuple(state.hosts),
            datastores=tuple(state.datastores),
            networks=tuple(state.networks),
            vms=tuple(state.vms),
        )

    async def hosts(self) -> tuple[HostInfo, ...]:
        self._check()
        return tuple((await self._backend.state()).hosts)

    async def find_extension(self, key: str) -> Extension | None:
        self._check()
        state = await self._backend.state()
        return state.extensions.get(key)

    async def register_extension(self, extension: Extension) -> None:
        self._check()

        def change(state: SimulatedState) -> None:
            state.extensions[extension.key] = extension

        await self._backend.mutate(change)

    async def update_extension(self, extension: Extension) -> None:
        self._check()
        state = await self._backend.state()
        if extension.key not in state.extensions:
            raise VCenterNotFound(f"extension {extension.key} is not registered")
        await self.register_extension(extension)

    async def unregister_extension(self, key: str) -> None:
        self._check()
        state = await self._backend.state()
        if key not in state.extensions:
            raise VCenterNotFound(f"extension {key} is not registered")

        def change(state: SimulatedState) -> None:
            state.extensions.pop(key, None)

        await self._backend.mutate(change)

    async def create_role(self, name: str, clone_from: str) -> None:
        self._check()
        state = await self._backend.state()
        if clone_from not in state.roles:
            raise VCenterNotFound(f"role {clone_from} does not exist")
        if name in state.roles:
            raise VCenterConflict(f"role {name} already exists")
        privileges = list(state.roles[clone_from])

        def change(state: SimulatedState) -> None:
            state.roles[name] = privileges

        await self._backend.mutate(change)

    async def delete_role(self, name: str) -> None:
        self._check()
        state = await self._backend.state()
        if name not in state.roles:
            raise VCenterNotFound(f"role {name} does not exist")
        if name in state.permissions.values():
            raise VCenterConflict(f"role {name} is still granted")

        def change(state: SimulatedState) -> None:
            state.roles.pop(name, None)

        await self._backend.mutate(change)

    async def role_names(self) -> tuple[str, ...]:
        self._check()
        return tuple(sorted((await self._backend.state()).roles))

    async def set_global_permission(self, principal: str, role: str) -> None:
        self._check()
        if role not in (await self._backend.state()).roles:
            raise VCenterNotFound(f"role {role} does not exist")

        def change(state: SimulatedState) -> None:
            state.permissions[principal] = role

        await self._backend.mutate(change)

    async def remove_global_permission(self, principal: str) -> None:
        self._check()
        if principal not in (await self._backend.state()).permissions:
            raise VCenterNotFound(f"{principal} has no global permission")

        def change(state: SimulatedState) -> None:
            state.permissions.pop(principal, None)

        await self._backend.mutate(change)

    async def global_permissions(self) -> dict[str, str]:
        self._check()
        return dict((await self._backend.state()).permissions)

    async def logout(self) -> None:
        self._open = False
