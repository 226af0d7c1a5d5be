from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class RecoverySettings(Base):
    """Where this site places the RocVA and the rehydration VMs it creates during a recovery:
    one row, absent until an admin sets it."""

    __tablename__ = "recovery_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    cluster_id: Mapped[str] = mapped_column(String(32))
    datastore_id: Mapped[str] = mapped_column(String(32))
    network_id: Mapped[str] = mapped_column(String(32))
    # Test failovers may attach their VMs to an isolated network of their own.
    test_network_id: Mapped[str | None] = mapped_column(String(32))
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[dt.datetime]
