"""Opaque identifiers: `<prefix>-<12 hex>`, deterministic when a seed is set."""

from __future__ import annotations

import random
import secrets


class IdFactory:
    def __init__(self, seed: int | None = None) -> None:
        self._rng: random.Random | None = random.Random(seed) if seed is not None else None  # noqa: S311

    def reseed(self, seed: int | None) -> None:
        self._rng = random.Random(seed) if seed is not None else None  # noqa: S311

    def new(self, prefix: str) -> str:
        if self._rng is None:
            return f"{prefix}-{secrets.token_hex(6)}"
        return f"{prefix}-{self._rng.getrandbits(48):012x}"


ids = IdFactory()


def new_id(prefix: str) -> str:
    return ids.new(prefix)
