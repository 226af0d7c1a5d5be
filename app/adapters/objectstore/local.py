"""A directory on disk as an object store: one folder per container, keys as relative paths."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from app.adapters.objectstore.errors import ObjectNotFound, ObjectStoreError, StorageUnreachable


class LocalObjectStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    def _container(self, container: str) -> Path:
        if "/" in container or container in {"", ".", ".."}:
            raise ObjectStoreError(f"invalid container name {container!r}")
        return self._root / container

    def _object(self, container: str, key: str) -> str:
        """The key's file, checked by its text alone: relative, and no part empty, `.` or `..`,
        so it stays inside its container (resolving symlinks on disk cost more than the write
        it guards, and only appliances write in the store). A string, not a `Path`: the engine
        writes thousands of objects per virtual hour and `pathlib` cost more than the write."""
        parts = key.split("/")
        if not key or "\x00" in key or any(part in {"", ".", ".."} for part in parts):
            raise ObjectStoreError(f"invalid key {key!r}")
        return os.path.join(self._container(container), key)

    async def check(self) -> None:
        def probe() -> None:
            try:
                self._root.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                # One message whatever the cause: the answer must not tell what exists there.
                raise StorageUnreachable(f"cannot create or write {self._root}") from error
            if not os.access(self._root, os.W_OK):
                raise StorageUnreachable(f"cannot create or write {self._root}")

        await asyncio.to_thread(probe)

    async def create_container(self, container: str) -> None:
        path = self._container(container)
        await asyncio.to_thread(path.mkdir, parents=True, exist_ok=True)

    async def delete_container(self, container: str) -> None:
        path = self._container(container)
        if not await asyncio.to_thread(path.is_dir):
            raise ObjectNotFound(f"container {container} does not exist")
        await asyncio.to_thread(shutil.rmtree, path)

    async def list_containers(self, prefix: str = "") -> list[str]:
        def names() -> list[str]:
            if not self._root.is_dir():
                return []
            return sorted(
                p.name for p in self._root.iterdir() if p.is_dir() and p.name.startswith(prefix)
            )

        return await asyncio.to_thread(names)

    async def put(self, container: str, key: str, data: bytes) -> None:
        path = self._object(container, key)

        def write() -> None:
            if not self._container(container).is_dir():
                raise ObjectNotFound(f"container {container} does not exist")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            partial = path + ".partial"
            with open(partial, "wb") as file:
                file.write(data)
            os.replace(partial, path)

        await asyncio.to_thread(write)

    async def get(self, container: str, key: str) -> bytes:
        path = self._object(container, key)
        try:
            return await asyncio.to_thread(Path(path).read_bytes)
        except FileNotFoundError as error:
            raise ObjectNotFound(f"{container}/{key} does not exist") from error

    async def delete(self, container: str, key: str) -> None:
        path = self._object(container, key)
        try:
            await asyncio.to_thread(os.unlink, path)
        except FileNotFoundError as error:
            raise ObjectNotFound(f"{container}/{key} does not exist") from error

    async def list(self, container: str, prefix: str = "") -> list[str]:
        base = self._container(container)

        def keys() -> list[str]:
            if not base.is_dir():
                raise ObjectNotFound(f"container {container} does not exist")
            found = (
                p.relative_to(base).as_posix()
                for p in base.rglob("*")
                if p.is_file() and not p.name.endswith(".partial")
            )
            return sorted(k for k in found if k.startswith(prefix))

        return await asyncio.to_thread(keys)
