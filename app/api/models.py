"""The idempotency layer's table: what a request sent with an `Idempotency-Key` was answered."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_record"

    # The user's id: a key is the user's, whatever credential they present.
    principal: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None]
    headers: Mapped[list[Any]] = mapped_column(default=list)
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    # Which process is answering a pending record (`node/incarnation`), so that a record a
    # crash left pending is taken over instead of blocking its key.
    owner: Mapped[str | None] = mapped_column(String(160))
    # Wall-clock time the owner took the record (the virtual clock may stand still).
    claimed_at: Mapped[dt.datetime | None]
