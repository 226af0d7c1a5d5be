from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class Drva(Base):
    __tablename__ = "drva"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    cluster_id: Mapped[str] = mapped_column(
        ForeignKey("cluster.id", ondelete="CASCADE"), index=True
    )
    # At most one DRVA per host: the unique constraint makes it race-free.
    host_id: Mapped[str] = mapped_column(ForeignKey("host.id", ondelete="CASCADE"), unique=True)
    datastore_id: Mapped[str] = mapped_column(String(32))
    network_id: Mapped[str] = mapped_column(String(32))
    vm_moref: Mapped[str | None] = mapped_column(String(64))
    ip_mode: Mapped[str] = mapped_column(String(8))
    ip: Mapped[str | None] = mapped_column(String(64))
    netmask: Mapped[str | None] = mapped_column(String(64))
    gateway: Mapped[str | None] = mapped_column(String(64))
    dns: Mapped[list[Any]] = mapped_column(default=list)
    cpu: Mapped[int]
    memory_gb: Mapped[int]
    version: Mapped[str] = mapped_column(String(32))
    iso_path: Mapped[str | None] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16))
    active_task_id: Mapped[str | None] = mapped_column(String(32))
    last_heartbeat_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class ReplicationLogVolume(Base):
    __tablename__ = "replication_log_volume"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    drva_id: Mapped[str] = mapped_column(ForeignKey("drva.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(8))
    size_gb: Mapped[int]
    datastore_id: Mapped[str | None] = mapped_column(String(32))
    disk_key: Mapped[int | None]
    iscsi_target: Mapped[str | None] = mapped_column(String(223))
    lun: Mapped[int | None]
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime]
