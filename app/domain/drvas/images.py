"""DRVA images: a real ISO 9660 image per DRVA version, built by the appliance itself."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pycdlib

from app import PRODUCT_VERSION

DRVA_VERSIONS = (PRODUCT_VERSION,)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DrvaImage:
    id: str
    version: str
    file_name: str
    size_bytes: int
    sha256: str
    path: Path

    @property
    def datastore_path(self) -> str:
        """Where deployments put it on a datastore."""
        return f"jetstream/drva/{self.file_name}"


def _build_iso(version: str, target: Path) -> None:
    manifest = json.dumps(
        {"product": "JetStream DR Virtual Appliance", "version": version, "format": 1},
        indent=2,
    ).encode()
    readme = (
        f"JetStream DR Virtual Appliance {version}\n"
        "Boots from this image; network settings come from guestinfo.jetstream.*\n"
    ).encode()
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, vol_ident=f"JSDR_DRVA_{version.replace('.', '_')}")
    iso.add_directory("/BOOT", joliet_path="/boot")
    iso.add_fp(
        io.BytesIO(manifest), len(manifest), "/MANIFEST.JSON;1", joliet_path="/manifest.json"
    )
    iso.add_fp(
        io.BytesIO(readme), len(readme), "/BOOT/README.TXT;1", joliet_path="/boot/README.txt"
    )
    partial = target.with_suffix(".partial")
    iso.write(str(partial))
    iso.close()
    partial.replace(target)


def ensure_images(directory: Path) -> list[DrvaImage]:
    """Build each version's ISO once (blocking: call from a worker thread)."""
    directory.mkdir(parents=True, exist_ok=True)
    images = []
    for version in DRVA_VERSIONS:
        file_name = f"jetstream-drva-{version}.iso"
        path = directory / file_name
        if not path.exists():
            _build_iso(version, path)
        data = path.read_bytes()
        images.append(
            DrvaImage(
                id=f"drva-image-{version}",
                version=version,
                file_name=file_name,
                size_bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                path=path,
            )
        )
    return images


def read_manifest(path: Path) -> dict[str, object]:
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, iso_path="/MANIFEST.JSON;1")
    finally:
        iso.close()
    manifest: dict[str, object] = json.loads(out.getvalue())
    return manifest


class DrvaImageLibrary:
    """The DRVA ISOs this appliance deploys from. Building them is a first-boot cost that
    nothing at start-up waits for: the build runs in a thread, and `images` waits for it."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._build: asyncio.Task[list[DrvaImage]] | None = None

    def start(self) -> None:
        self._build = asyncio.create_task(
            asyncio.to_thread(ensure_images, self._directory), name="drva-images"
        )

    def cancel(self) -> None:
        if self._build is not None and not self._build.done():
            self._build.cancel()

    async def images(self) -> list[DrvaImage]:
        if self._build is None:
            return []
        try:
            return await asyncio.shield(self._build)
        except Exception:
            logger.exception("building the DRVA images failed")
            return []
