"""A domain's manifest: the one object that says which site owns the domain, at which epoch.

Each site that takes a domain over claims it by writing the manifest with the next epoch, and
starts a generation of that number; a site that reads a higher epoch, or another owner, is
fenced. Format 2 names sites by id with their labels; format 1 (written before sites were ids)
named them, and is read through the names this appliance knows (`SiteDirectory`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from app.adapters.objectstore.port import ObjectStore
from app.domain.sites.identity import SiteDirectory
from app.domain.storage_format.keys import MANIFEST

FORMAT = 2
# The epoch of a domain before any site took it over (and of a manifest that names none).
FIRST_EPOCH = 1
SITE_KEYS = ("owner_site", "primary_site", "recovery_site")
_KNOWN = {"format", "domain_id", "name", "epoch", "rpo_target_seconds", "priority", "pitr"}
_KNOWN |= {*SITE_KEYS, *(f"{key}_name" for key in SITE_KEYS)}


class CorruptManifest(ValueError):
    """The manifest is not a JSON object."""


@dataclass
class Manifest:
    domain_id: str
    name: str
    epoch: int = FIRST_EPOCH
    format: int = FORMAT
    rpo_target_seconds: int = 300
    priority: int = 0
    pitr_enabled: bool = False
    pitr_window_days: int = 3
    pitr_estimated_iops: int | None = None
    # Site references as written: ids (format 2) or names (format 1); None where unset.
    site_refs: dict[str, str | None] = field(default_factory=dict)
    # id -> label, as the writer knew them (format 2 only).
    site_labels: dict[str, str] = field(default_factory=dict)
    # What this release does not model (`last_recovery_point_at`, `taken_over_at`…), kept as is.
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: bytes, container: str = "") -> Manifest:
        try:
            body = json.loads(data)
        except ValueError as error:
            raise CorruptManifest(f"the manifest of {container} is not JSON") from error
        if not isinstance(body, dict):
            raise CorruptManifest(f"the manifest of {container} is not an object")
        version = int(body.get("format", 1))
        pitr = body.get("pitr") or {}
        refs = {key: None if body.get(key) is None else str(body[key]) for key in SITE_KEYS}
        labels: dict[str, str] = {}
        if version >= FORMAT:
            for key in SITE_KEYS:
                site_id, label = body.get(key), body.get(f"{key}_name")
                if site_id and label:
                    labels[str(site_id)] = str(label)
        return cls(
            domain_id=str(body.get("domain_id", "")),
            name=str(body.get("name") or ""),
            epoch=int(body.get("epoch", FIRST_EPOCH)),
            format=version,
            rpo_target_seconds=int(body.get("rpo_target_seconds", 300)),
            priority=int(body.get("priority", 0)),
            pitr_enabled=bool(pitr.get("enabled", False)),
            pitr_window_days=int(pitr.get("window_days", 3)),
            pitr_estimated_iops=_optional_int(pitr.get("estimated_data_rate_iops")),
            site_refs=refs,
            site_labels=labels,
            extra={key: value for key, value in body.items() if key not in _KNOWN},
        )

    def to_bytes(self) -> bytes:
        body: dict[str, Any] = {
            "format": self.format,
            "domain_id": self.domain_id,
            "name": self.name,
            "epoch": self.epoch,
            "rpo_target_seconds": self.rpo_target_seconds,
            "priority": self.priority,
            "pitr": {
                "enabled": self.pitr_enabled,
                "window_days": self.pitr_window_days,
                "estimated_data_rate_iops": self.pitr_estimated_iops,
            },
        }
        for key in SITE_KEYS:
            site_id = self.site_refs.get(key)
            body[key] = site_id
            if self.format >= FORMAT:
                body[f"{key}_name"] = self.site_labels.get(site_id) if site_id else None
        return json.dumps({**body, **self.extra}, indent=2).encode()

    @property
    def needs_directory(self) -> bool:
        """A format-1 manifest names its sites: reading it needs the names this site knows."""
        return self.format < FORMAT

    def sites(self, directory: SiteDirectory | None) -> dict[str, str | None]:
        """The site references as ids (a format-1 manifest's names translated)."""
        if not self.needs_directory or directory is None:
            return dict(self.site_refs)
        return {
            key: None if value is None else directory.id_of(value)
            for key, value in self.site_refs.items()
        }

    def owner(self, directory: SiteDirectory | None) -> str:
        return str(self.sites(directory)["owner_site"])

    def stamp(self, sites: dict[str, str | None], directory: SiteDirectory) -> None:
        """Writes site ids, with their labels, into the manifest, which is then of format 2.
        The references not given keep their site (translated to an id if it was a name)."""
        known = dict(self.site_labels)
        current = self.sites(directory)
        self.format = FORMAT
        for key in SITE_KEYS:
            site_id = sites[key] if key in sites else current[key]
            self.site_refs[key] = site_id
            label = directory.label(site_id, known)
            if site_id is not None and label is not None:
                self.site_labels[site_id] = label

    @property
    def labels(self) -> dict[str, str]:
        """id -> label as the manifest's writer knew them (a site this one has not met)."""
        return {
            site_id: self.site_labels[site_id]
            for site_id in self.site_refs.values()
            if site_id is not None and site_id in self.site_labels
        }

    def claim(
        self, site_id: str, epoch: int, at: dt.datetime, kind: str, directory: SiteDirectory
    ) -> None:
        """`site_id` takes the domain over at `epoch` by a recovery of this kind: it is then
        the recovery site too after a failover, the primary site after a restore."""
        taking: dict[str, str | None] = {"owner_site": site_id}
        if kind == "failover":
            taking["recovery_site"] = site_id
        elif kind == "restore":
            taking["primary_site"] = site_id
        self.stamp(taking, directory)
        self.epoch = epoch
        self.extra["taken_over_at"] = at.isoformat()


async def read_manifest(store: ObjectStore, container: str) -> Manifest:
    """Raises the store's errors (`ObjectNotFound` when there is none) or `CorruptManifest`."""
    return Manifest.parse(await store.get(container, MANIFEST), container)


async def write_manifest(store: ObjectStore, container: str, manifest: Manifest) -> None:
    await store.put(container, MANIFEST, manifest.to_bytes())


def _optional_int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None  # a value this release cannot read is as good as none
