"""Roles and global permissions (the elevated user JetStream DR creates)."""

from __future__ import annotations

from typing import Any

from pyVmomi import vim

from app.adapters.vcenter.errors import (
    VCenterConflict,
    VCenterNotFound,
)
from app.adapters.vcenter.vsphere.base import (
    SessionBase,
)


class Access(SessionBase):
    def _role(self, name: str) -> Any:
        for role in self._content.authorizationManager.roleList:
            if role.name == name:
                return role
        raise VCenterNotFound(f"role {name} does not exist")

    def _create_role(self, name: str, clone_from: str) -> None:
        manager = self._content.authorizationManager
        if any(role.name == name for role in manager.roleList):
            raise VCenterConflict(f"role {name} already exists")
        # AddAuthorizationRole's answer is not a usable id on every vCenter: roles go by name.
        manager.AddAuthorizationRole(name=name, privIds=list(self._role(clone_from).privilege))

    async def create_role(self, name: str, clone_from: str) -> None:
        await self._run(self._create_role, name, clone_from)

    def _delete_role(self, name: str) -> None:
        role = self._role(name)
        self._content.authorizationManager.RemoveAuthorizationRole(
            roleId=role.roleId, failIfUsed=True
        )

    async def delete_role(self, name: str) -> None:
        await self._run(self._delete_role, name)

    async def role_names(self) -> tuple[str, ...]:
        roles = await self._run(lambda: list(self._content.authorizationManager.roleList))
        return tuple(sorted(role.name for role in roles))

    def _set_permission(self, principal: str, role: str) -> None:
        permission = vim.AuthorizationManager.Permission(
            principal=principal, group=False, roleId=self._role(role).roleId, propagate=True
        )
        self._content.authorizationManager.SetEntityPermissions(
            entity=self._content.rootFolder, permission=[permission]
        )

    async def set_global_permission(self, principal: str, role: str) -> None:
        await self._run(self._set_permission, principal, role)

    def _remove_permission(self, principal: str) -> None:
        self._content.authorizationManager.RemoveEntityPermission(
            entity=self._content.rootFolder, user=principal, isGroup=False
        )

    async def remove_global_permission(self, principal: str) -> None:
        await self._run(self._remove_permission, principal)

    def _permissions(self) -> dict[str, str]:
        manager = self._content.authorizationManager
        names = {role.roleId: role.name for role in manager.roleList}
        granted = manager.RetrieveEntityPermissions(
            entity=self._content.rootFolder, inherited=False
        )
        return {p.principal: names.get(p.roleId, str(p.roleId)) for p in granted or []}

    async def global_permissions(self) -> dict[str, str]:
        return await self._run(self._permissions)
