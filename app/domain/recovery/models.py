"""Recoveries (failover, test failover, failback) with their reports, and runbooks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class RecoveryOperation(Base):
    """One failover, test failover or failback: its progress while it runs, its report after.

    `vms` holds one entry per VM: {key, name, vm_id, moref, outcome, error, image, cpu,
    memory_mb, powered_on_at}; `image` is what the recovery wrote to its disks."""

    __tablename__ = "recovery_operation"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    domain_id: Mapped[str] = mapped_column(
        ForeignKey("protection_domain.id", ondelete="CASCADE"), index=True
    )
    domain_name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(16))
    continuous: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    task_id: Mapped[str | None] = mapped_column(String(32))
    # The mode to return to when a test ends, or a failback is abandoned.
    previous_mode: Mapped[str] = mapped_column(String(32))
    source_site: Mapped[str] = mapped_column(String(128))
    target_site: Mapped[str] = mapped_column(String(128))
    generation: Mapped[int | None]
    recovery_point_id: Mapped[str | None] = mapped_column(String(32))
    recovery_point_epoch: Mapped[int | None] = mapped_column(BigInteger)
    recovery_point_at: Mapped[dt.datetime | None]
    # The owning site's `release` task a planned failover or a failback waits on.
    handover_task_id: Mapped[str | None] = mapped_column(String(32))
    # The ownership epoch this recovery claimed in the manifest (failover and failback).
    claimed_epoch: Mapped[int | None]
    # Where the continuous rehydration of a CFO/CFB has got to.
    rehydrated_epoch: Mapped[int | None] = mapped_column(BigInteger)
    helper_vms: Mapped[list[Any]] = mapped_column(default=list)
    vms: Mapped[list[Any]] = mapped_column(default=list)
    # How the runbook's stages ran: `records.StageRecord`s (null on rows from before runbooks
    # had groups).
    runbook_log: Mapped[list[Any] | None] = mapped_column(default=list)
    success: Mapped[bool | None]
    summary: Mapped[str | None] = mapped_column(String(4096))
    error: Mapped[str | None] = mapped_column(String(1024))
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]


class Runbook(Base):
    """How a domain's VMs come up at the recovery site (and back at the primary on failback)."""

    __tablename__ = "runbook"

    domain_id: Mapped[str] = mapped_column(
        ForeignKey("protection_domain.id", ondelete="CASCADE"), primary_key=True
    )
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[dt.datetime]
