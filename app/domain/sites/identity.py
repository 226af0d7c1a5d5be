"""A site is its id; its name is a label that may change (`PATCH /appliance {site_name}`,
`JETDR_SITE_NAME`). Ownership in domain rows, manifests, fencing, peers and recovery reports
holds ids; names are looked up when something is shown.

Manifests of format 1 (written before sites were ids) name their sites: they are read through
the names this appliance knows, its own and those of its peers (`SiteDirectory`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.sites import repository

if TYPE_CHECKING:
    from app.domain.platform import Platform


def local_site_id(platform: Platform) -> str:
    assert platform.state.local_site_id is not None, "the local site is read at boot"
    return platform.state.local_site_id


@dataclass(frozen=True)
class SiteDirectory:
    """The sites this appliance can name: id -> label, and label -> id for format-1 data."""

    labels: dict[str, str] = field(default_factory=dict)
    ids_by_name: dict[str, str] = field(default_factory=dict)

    def label(self, site_id: str | None, known: dict[str, Any] | None = None) -> str | None:
        if site_id is None:
            return None
        return self.labels.get(site_id) or str((known or {}).get(site_id) or site_id)

    def id_of(self, value: str) -> str:
        return self.ids_by_name.get(value, value)


async def site_directory(session: AsyncSession, platform: Platform) -> SiteDirectory:
    labels: dict[str, str] = {}
    for site in await repository.all_(session):
        if site.role == "local":
            continue
        labels[site.peer_site_id or site.id] = site.name
    local = platform.state.local_site
    labels[local] = platform.state.local_site_label
    return SiteDirectory(labels, {name: site_id for site_id, name in labels.items()})
