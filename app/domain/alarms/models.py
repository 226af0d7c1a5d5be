from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, String, event, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class Alarm(Base):
    __tablename__ = "alarm"

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


# At most one active alarm per condition and entity, even when two writers raise it at once: a
# partial unique index, written as DDL because an `Index(..., postgresql_where=...)` makes
# SQLAlchemy import the PostgreSQL dialect on every start-up (~90 ms) just to check the argument.
ACTIVE_ALARM_INDEX = "uq_alarm_active"
ACTIVE_ALARM_DDL = (
    f"CREATE UNIQUE INDEX {ACTIVE_ALARM_INDEX} ON alarm (type, entity_id) WHERE cleared_at IS NULL"
)


@event.listens_for(Alarm.__table__, "after_create")
def _create_the_active_alarm_index(_table: object, connection: Connection, **_kw: object) -> None:
    connection.execute(text(ACTIVE_ALARM_DDL))
