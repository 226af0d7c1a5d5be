"""The replication engine's durable state per protection domain (see `engine`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class DomainReplication(Base):
    __tablename__ = "domain_replication"

    domain_id: Mapped[str] = mapped_column(
        ForeignKey("protection_domain.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(16))
    # Virtual time up to which the engine has run this domain.
    cursor_at: Mapped[dt.datetime]
    # The replication log is the epochs [shipped_until, captured_until); `ship_carry_bytes`
    # of the epoch at `shipped_until` already went out.
    captured_until: Mapped[int] = mapped_column(BigInteger)
    shipped_until: Mapped[int] = mapped_column(BigInteger)
    ship_carry_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    log_used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    log_capacity_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # Bitmap mode and stopped replication track dirty regions from this epoch on.
    dirty_from: Mapped[int | None] = mapped_column(BigInteger)
    resync_epoch: Mapped[int | None] = mapped_column(BigInteger)
    resync_remaining_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    backpressure_since: Mapped[dt.datetime | None]
    bitmap_since: Mapped[dt.datetime | None]
    unreachable_since: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(1024))
    # Another site owns the domain now (the manifest's epoch or owner moved on): this site
    # must not write to the container again.
    fenced: Mapped[bool] = mapped_column(default=False)
    fence_checked_at: Mapped[dt.datetime | None]
    segment_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_recovery_point_at: Mapped[dt.datetime | None]
    compacted_at: Mapped[dt.datetime | None]
    # Counters since protection started, for the statistics.
    observed_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    backpressure_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    bitmap_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)
    puts: Mapped[int] = mapped_column(BigInteger, default=0)
    put_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # The alarms this engine raised on the domain and has not cleared yet.
    raised_alarms: Mapped[list[Any]] = mapped_column(default=list)
    # The latest steps: [{at, seconds, in, out, log_used, backpressure, bitmap}], newest last.
    samples: Mapped[list[Any]] = mapped_column(default=list)
