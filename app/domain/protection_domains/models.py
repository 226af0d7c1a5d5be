from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, String, UniqueConstraint
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
    # Site ids above; what the manifests called the sites this appliance has not met (id: name).
    site_names: Mapped[dict[str, Any]] = mapped_column(default=dict)
    replication_enabled: Mapped[bool] = mapped_column(default=False)
    rpo_target_seconds: Mapped[int]
    priority: Mapped[int]
    pitr_enabled: Mapped[bool]
    pitr_window_days: Mapped[int]
    # What the creator estimated the domain's write rate at ("Estimated PITR Data Rate").
    pitr_estimated_iops: Mapped[int | None]
    epoch: Mapped[int] = mapped_column(default=1)
    active_task_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class ProtectedVm(Base):
    """A VM in a domain. `disks` snapshots each disk's key, capacity and write profile when the
    VM is added; `origin_epoch` is when its writes started being tracked (protection start).

    `replica_key` names the VM in the container on every site (the id it had where it was first
    protected). `vm_id` is the local VM: none for a domain imported from another site until a
    recovery creates it here. `base_image` ({disk key: [content per region]}) is the content a
    recovery gave its disks, before any write here."""

    __tablename__ = "protected_vm"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    domain_id: Mapped[str] = mapped_column(
        ForeignKey("protection_domain.id", ondelete="CASCADE"), index=True
    )
    # A VM belongs to at most one domain: the unique constraint makes it race-free.
    vm_id: Mapped[str | None] = mapped_column(ForeignKey("vm.id", ondelete="CASCADE"), unique=True)
    replica_key: Mapped[str] = mapped_column(String(64))
    base_image: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    name: Mapped[str] = mapped_column(String(255))
    protection_mode: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16))
    disks: Mapped[list[Any]] = mapped_column(default=list)
    origin_epoch: Mapped[int | None] = mapped_column(BigInteger)
    # Set when the VM was shut down for a handover: its disks take no write from this epoch on.
    stopped_epoch: Mapped[int | None] = mapped_column(BigInteger)
    sync_total_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sync_remaining_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    protected_at: Mapped[dt.datetime | None]
    # The first recovery point that held the VM; every later one holds it too.
    first_recovery_point_at: Mapped[dt.datetime | None]
    added_at: Mapped[dt.datetime]


class RecoveryPoint(Base):
    """A point the domain can be recovered to. `generation` is the ownership epoch it was taken
    in; its id is derived from (domain, generation, epoch), so both sites name it alike."""

    __tablename__ = "recovery_point"
    __table_args__ = (UniqueConstraint("domain_id", "generation", "epoch"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    domain_id: Mapped[str] = mapped_column(
        ForeignKey("protection_domain.id", ondelete="CASCADE"), index=True
    )
    generation: Mapped[int] = mapped_column(default=1)
    epoch: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[dt.datetime]
    consistent: Mapped[bool]
    # The replica keys of the VMs it holds.
    vm_ids: Mapped[list[Any]] = mapped_column(default=list)


def recovery_point_id(domain_id: str, generation: int, epoch: int) -> str:
    digest = hashlib.blake2b(f"{domain_id}:{generation}:{epoch}".encode(), digest_size=12)
    return f"rp-{digest.hexdigest()}"


# The replication engine's durable state per protection domain (see `app.domain.replication`):
# the domain's own, since fencing and ownership are the domain's.
class DomainReplication(Base):
    __tablename__ = "domain_replication"

    domain_id: Mapped[str] = mapped_column(
        ForeignKey("protection_domain.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(16))
    # Virtual time up to which the engine has run this domain.
    cursor_at: Mapped[dt.datetime]
    # The replication log is the epochs [shipped_until, captured_until); `ship_carry_bytes`
    # of the epoch at `shipped_until` already went out.
    captured_until: Mapped[int] = mapped_column(BigInteger)
    shipped_until: Mapped[int] = mapped_column(BigInteger)
    ship_carry_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    log_used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    log_capacity_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # Bitmap mode and stopped replication track dirty regions from this epoch on.
    dirty_from: Mapped[int | None] = mapped_column(BigInteger)
    resync_epoch: Mapped[int | None] = mapped_column(BigInteger)
    resync_remaining_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    backpressure_since: Mapped[dt.datetime | None]
    bitmap_since: Mapped[dt.datetime | None]
    unreachable_since: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(1024))
    # Another site owns the domain now (the manifest's epoch or owner moved on): this site
    # must not write to the container again.
    fenced: Mapped[bool] = mapped_column(default=False)
    fence_checked_at: Mapped[dt.datetime | None]
    segment_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_recovery_point_at: Mapped[dt.datetime | None]
    compacted_at: Mapped[dt.datetime | None]
    # Counters since protection started, for the statistics.
    observed_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    backpressure_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    bitmap_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)
    puts: Mapped[int] = mapped_column(BigInteger, default=0)
    put_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # The alarms this engine raised on the domain and has not cleared yet.
    raised_alarms: Mapped[list[Any]] = mapped_column(default=list)
    # The latest steps: [{at, seconds, in, out, log_used, backpressure, bitmap}], newest last.
    samples: Mapped[list[Any]] = mapped_column(default=list)
