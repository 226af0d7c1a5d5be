from __future__ import annotations

import datetime as dt
from typing import Any, Literal, get_args

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base

# The MSA VM's size when deployed (this emulator's choice; the OVA's is not documented).
DEFAULT_CPU_COUNT = 4
DEFAULT_MEMORY_GB = 8
# The MSA's daemons as this emulator names them (the product's names are not documented):
# the REST API and management service, the task scheduler, the replication engine.
DaemonName = Literal["jetdr-api", "jetdr-scheduler", "jetdr-replication"]
DAEMONS: tuple[str, ...] = get_args(DaemonName)


class Appliance(Base):
    """The single row describing this MSA (id is always 1)."""

    __tablename__ = "appliance"

    id: Mapped[int] = mapped_column(primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    ip: Mapped[str] = mapped_column(String(64))
    dns: Mapped[list[Any]] = mapped_column(default=list)
    ntp: Mapped[list[Any]] = mapped_column(default=list)
    subscription_id: Mapped[str | None] = mapped_column(String(128))
    # What the subscription server reports; None: no expiry known.
    subscription_expires_at: Mapped[dt.datetime | None]
    time_skew_seconds: Mapped[float | None]
    local_site_id: Mapped[str] = mapped_column(String(32))
    # The JETDR_SITE_NAME last applied: a boot renames the site only when the setting changed,
    # so a name given through the API outlives restarts with the same setting.
    site_name_setting: Mapped[str | None] = mapped_column(String(128))
    # The virtual clock when last recorded: after a restart it resumes from here, never earlier.
    clock_at: Mapped[dt.datetime | None]
    # The MSA's own VM in vCenter, once an install cmdlet deployed it; None before that.
    vm_moref: Mapped[str | None] = mapped_column(String(64))
    vm_name: Mapped[str | None] = mapped_column(String(80))
    cpu_count: Mapped[int] = mapped_column(default=DEFAULT_CPU_COUNT)
    memory_gb: Mapped[int] = mapped_column(default=DEFAULT_MEMORY_GB)
    sshd_enabled: Mapped[bool] = mapped_column(default=False)
    # {daemon name: when it was last restarted}
    daemon_restarts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    installed_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
