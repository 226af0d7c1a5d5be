from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class ScriptExecution(Base):
    """A named run of one cmdlet of the AVS run-command package, with its output streams."""

    __tablename__ = "script_execution"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    cmdlet: Mapped[str] = mapped_column(String(64))
    # [{name, type, value}] with secure values encrypted (`secret`), never in clear text.
    parameters: Mapped[list[Any]] = mapped_column(default=list)
    # What the request asked for, hashed: the same name submitted again must ask the same.
    fingerprint: Mapped[str] = mapped_column(String(64))
    timeout_seconds: Mapped[int]
    retention_days: Mapped[int]
    state: Mapped[str] = mapped_column(String(16), index=True)
    task_id: Mapped[str] = mapped_column(String(32))
    submitted_by: Mapped[str] = mapped_column(String(128))
    submitted_at: Mapped[dt.datetime]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    information: Mapped[list[Any]] = mapped_column(default=list)
    warnings: Mapped[list[Any]] = mapped_column(default=list)
    errors: Mapped[list[Any]] = mapped_column(default=list)
    named_outputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    failure_reason: Mapped[str | None] = mapped_column(String(2048))
