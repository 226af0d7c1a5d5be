"""Opaque identifiers: `<prefix>-<12 hex>`.

Without a seed they are random. With a seed they are deterministic and unique: the id is a hash
of (seed, generation, prefix, n), where n counts the ids of that prefix made in this generation
and the generation is a number kept in the database that every boot and every emulator reset
advances. So the same scenario from a fresh data directory gives the same ids, and a restart
or a reset continues with ids no earlier generation made."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import defaultdict

from sqlalchemy import Integer
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, insert_of


class IdGeneration(Base):
    """One row: the generation of seeded ids now in use (kept across resets, not snapshotted)."""

    __tablename__ = "id_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int]


class IdFactory:
    def __init__(self, seed: int | None = None, generation: int = 0) -> None:
        self._lock = threading.Lock()
        self._counters: defaultdict[str, int] = defaultdict(int)
        self._seed = seed
        self._generation = generation

    @property
    def seed(self) -> int | None:
        return self._seed

    def reseed(self, seed: int | None, generation: int = 0) -> None:
        with self._lock:
            self._seed, self._generation = seed, generation
            self._counters.clear()

    def new(self, prefix: str) -> str:
        if self._seed is None:
            return f"{prefix}-{secrets.token_hex(6)}"
        with self._lock:
            count = self._counters[prefix]
            self._counters[prefix] = count + 1
            key = f"{self._seed}:{self._generation}:{prefix}:{count}"
        return f"{prefix}-{hashlib.blake2b(key.encode(), digest_size=6).hexdigest()}"

    def named(self, prefix: str, name: str) -> str:
        """An id for something named once and for good (the local site at its first boot):
        with a seed, two appliances sharing the seed but not the name get different ids."""
        if self._seed is None:
            return f"{prefix}-{secrets.token_hex(6)}"
        key = f"{self._seed}:named:{prefix}:{name}"
        return f"{prefix}-{hashlib.blake2b(key.encode(), digest_size=6).hexdigest()}"


ids = IdFactory()


def new_id(prefix: str) -> str:
    return ids.new(prefix)


async def next_generation(session: AsyncSession) -> int:
    """Advances the stored generation and returns it (0 on a database that had none). Atomic:
    two processes sharing a database never get the same one."""
    stored = await session.scalar(
        insert_of(session.get_bind().dialect.name)(IdGeneration)
        .values(id=1, generation=0)
        .on_conflict_do_update(
            index_elements=[IdGeneration.id],
            set_={"generation": IdGeneration.generation + 1},
        )
        .returning(IdGeneration.generation)
    )
    await session.commit()
    assert stored is not None
    return int(stored)


async def start_generation(session: AsyncSession, seed: int | None) -> None:
    """Before a boot or a reset makes any id: a seeded factory moves to a fresh generation."""
    if seed is None:
        ids.reseed(None)
        return
    ids.reseed(seed, await next_generation(session))
