"""vCenter extensions: the plugin's registration."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyVmomi import vim

from app.adapters.vcenter.port import (
    Extension,
)
from app.adapters.vcenter.vsphere.base import (
    SessionBase,
)


class Extensions(SessionBase):
    @staticmethod
    def _extension_from(found: Any) -> Extension:
        server = found.server[0] if found.server else None
        return Extension(
            key=found.key,
            version=found.version or "",
            label=found.description.label if found.description else "",
            summary=found.description.summary if found.description else "",
            company=found.company or "",
            server_url=server.url if server else "",
            server_thumbprint=(server.serverThumbprint or None) if server else None,
        )

    @staticmethod
    def _extension_to(extension: Extension) -> Any:
        description = vim.Description(label=extension.label, summary=extension.summary)
        return vim.Extension(
            key=extension.key,
            version=extension.version,
            company=extension.company,
            description=description,
            type="com.vmware.vim.viclient:remote-plugin",
            lastHeartbeatTime=dt.datetime.now(dt.UTC),
            server=[
                vim.Extension.ServerInfo(
                    url=extension.server_url,
                    description=description,
                    company=extension.company,
                    type="HTTPS",
                    adminEmail=["admin@jetstream.local"],
                    serverThumbprint=extension.server_thumbprint or "",
                )
            ],
            client=[
                vim.Extension.ClientInfo(
                    version=extension.version,
                    description=description,
                    company=extension.company,
                    type="vsphere-client-remote",
                    url=extension.server_url,
                )
            ],
        )

    async def find_extension(self, key: str) -> Extension | None:
        found = await self._run(self._content.extensionManager.FindExtension, key)
        return self._extension_from(found) if found is not None else None

    async def register_extension(self, extension: Extension) -> None:
        await self._run(
            self._content.extensionManager.RegisterExtension, self._extension_to(extension)
        )

    async def update_extension(self, extension: Extension) -> None:
        await self._run(
            self._content.extensionManager.UpdateExtension, self._extension_to(extension)
        )

    async def unregister_extension(self, key: str) -> None:
        await self._run(self._content.extensionManager.UnregisterExtension, key)
