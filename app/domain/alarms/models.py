from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class Alarm(Base):
    __tablename__ = "alarm"
    # At most one active alarm per condition and entity, even when two writers raise it at once.
    __table_args__ = (
        Index(
            "uq_alarm_active",
            "type",
            "entity_id",
            unique=True,
            sqlite_where=text("cleared_at IS NULL"),
            postgresql_where=text("cleared_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    type: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64), index=True)
    entity_name: Mapped[str | None] = mapped_column(String(256))
    message: Mapped[str] = mapped_column(String(1024))
    raised_at: Mapped[dt.datetime]
    cleared_at: Mapped[dt.datetime | None]
    acknowledged: Mapped[bool] = mapped_column(default=False)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
