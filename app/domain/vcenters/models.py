from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class VCenter(Base):
    __tablename__ = "vcenter"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Always 1: the unique constraint is what makes "one vCenter per appliance" race-free.
    slot: Mapped[int] = mapped_column(default=1, unique=True)
    active_task_id: Mapped[str | None] = mapped_column(String(32))
    hostname: Mapped[str] = mapped_column(String(255))
    port: Mapped[int]
    username: Mapped[str] = mapped_column(String(255))
    password_encrypted: Mapped[str] = mapped_column(String(1024))
    register_with_ip: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[str | None] = mapped_column(String(32))
    build: Mapped[str | None] = mapped_column(String(32))
    instance_uuid: Mapped[str | None] = mapped_column(String(64))
    plugin_key: Mapped[str] = mapped_column(String(128))
    plugin_version: Mapped[str | None] = mapped_column(String(32))
    plugin_registered: Mapped[bool] = mapped_column(default=False)
    last_error: Mapped[str | None] = mapped_column(String(1024))
    inventory_refreshed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
