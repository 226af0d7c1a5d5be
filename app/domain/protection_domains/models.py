from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class ProtectionDomain(Base):
    __tablename__ = "protection_domain"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    storage_site_id: Mapped[str] = mapped_column(ForeignKey("storage_site.id"), index=True)
    drva_id: Mapped[str] = mapped_column(ForeignKey("drva.id"), index=True)
    replication_log_volume_id: Mapped[str] = mapped_column(
        ForeignKey("replication_log_volume.id"), index=True
    )
    container: Mapped[str] = mapped_column(String(63), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(32))
    health: Mapped[str] = mapped_column(String(16))
    primary_site: Mapped[str] = mapped_column(String(128))
    recovery_site: Mapped[str | None] = mapped_column(String(128))
    owner_site: Mapped[str] = mapped_column(String(128))
    replication_enabled: Mapped[bool] = mapped_column(default=False)
    rpo_target_seconds: Mapped[int]
    priority: Mapped[int]
    pitr_enabled: Mapped[bool]
    pitr_window_days: Mapped[int]
    epoch: Mapped[int] = mapped_column(default=1)
    active_task_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
