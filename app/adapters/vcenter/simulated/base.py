"""What every part of a simulated session shares: the backend and the open check."""

from __future__ import annotations

from app.adapters.vcenter.errors import (
    VCenterAuthFailed,
    VCenterNotFound,
)
from app.adapters.vcenter.port import HostInfo
from app.adapters.vcenter.simulated.backend import SimulatedBackend


class SessionBase:
    def __init__(self, backend: SimulatedBackend) -> None:
        self._backend = backend
        self._open = True

    def _check(self) -> None:
        if not self._open:
            raise VCenterAuthFailed("The session is not authenticated.")

    async def _cluster_hosts(self, cluster_moref: str) -> list[HostInfo]:
        state = await self._backend.state()
        if not any(c.moref == cluster_moref for c in state.clusters):
            raise VCenterNotFound(f"compute resource {cluster_moref} is not a cluster")
        return sorted(
            (h for h in state.hosts if h.cluster_moref == cluster_moref), key=lambda h: h.name
        )
