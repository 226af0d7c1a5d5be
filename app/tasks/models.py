from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class Task(Base):
    __tablename__ = "task"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    progress: Mapped[int] = mapped_column(default=0)
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64), index=True)
    entity_name: Mapped[str | None] = mapped_column(String(256))
    steps: Mapped[list[Any]] = mapped_column(default=list)
    cursor: Mapped[int] = mapped_column(default=0)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None]
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(2048))
    cancellable: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(default=0)
    # The process running it and until when (wall clock) its claim holds without renewal.
    owner: Mapped[str | None] = mapped_column(String(64), index=True)
    lease_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class TaskEvent(Base):
    __tablename__ = "task_event"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(String(2048))


class Lease(Base):
    """A named lease one process holds at a time (`scheduler`: the clock-driven work)."""

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    until: Mapped[dt.datetime]
