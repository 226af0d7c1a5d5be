from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from app.core.schemas import ApiModel, RequestModel, Timestamp


class Pitr(RequestModel):
    """Chosen when the domain is created, never changed after (as in the product)."""

    enabled: bool = False
    window_days: int = Field(default=3, ge=1, le=30)
    estimated_data_rate_iops: int | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description="the creator's estimate of the domain's write IOPS (the product's "
        "'Estimated PITR Data Rate'); `GET .../pitr` sizes the window with it",
    )

    @model_validator(mode="after")
    def _estimate_needs_pitr(self) -> Pitr:
        if self.estimated_data_rate_iops is not None and not self.enabled:
            raise ValueError("estimated_data_rate_iops is for a domain with PITR enabled")
        return self


class DomainCreate(RequestModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,127}$")
    storage_site_id: str
    drva_id: str
    replication_log_volume_id: str
    rpo_target_seconds: int = Field(default=300, ge=30, le=86400)
    priority: int = Field(default=0, ge=0, le=100)
    pitr: Pitr = Field(default_factory=Pitr)


class DomainUpdate(RequestModel):
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,127}$")
    rpo_target_seconds: int | None = Field(default=None, ge=30, le=86400)
    priority: int | None = Field(default=None, ge=0, le=100)


class PitrRead(ApiModel):
    enabled: bool
    window_days: int
    estimated_data_rate_iops: int | None


class DomainRead(ApiModel):
    id: str
    name: str
    status: str
    mode: str
    health: str
    primary_site: str
    recovery_site: str | None
    owner_site: str = Field(description="the owning site's id")
    primary_site_name: str = Field(description="labels of the sites above, as known here")
    recovery_site_name: str | None
    owner_site_name: str
    replication_enabled: bool
    rpo_seconds: float | None
    rpo_target_seconds: int
    priority: int
    vms: int
    storage_site_id: str
    drva_id: str
    replication_log_volume_id: str
    container: str
    pitr: PitrRead
    last_recovery_point_at: Timestamp | None
    active_task_id: str | None
    created_at: Timestamp


ProtectionMode = Literal["write_through", "write_back_vmdk", "write_back_iscsi"]


class VmsAdd(RequestModel):
    vm_ids: list[str] = Field(min_length=1, max_length=1000)
    protection_mode: ProtectionMode = "write_through"


class ProtectedDiskRead(ApiModel):
    key: int
    capacity_bytes: int
    write_profile: dict[str, Any]


class ProtectedVmRead(ApiModel):
    vm_id: str | None = Field(
        description="the VM at this site; null for a VM of an imported domain not recovered here"
    )
    replica_key: str = Field(description="the VM's name in the container, the same on every site")
    name: str
    protection_mode: str
    write_mbps: float = Field(description="what the VM writes (its disks' write profiles)")
    write_acknowledged_after_ms: float = Field(
        description="its writes' latency while the log keeps up, by protection mode"
    )
    status: str
    rpo_seconds: float | None
    sync_progress: float = Field(description="initial sync, percent")
    disks: list[ProtectedDiskRead]
    added_at: Timestamp
    protected_at: Timestamp | None
    last_recovery_point_at: Timestamp | None


class RecoveryPointRead(ApiModel):
    id: str
    timestamp: Timestamp
    consistent: bool
    vms: int


class RecoveryPointList(ApiModel):
    items: list[RecoveryPointRead]


class PitrWindowRead(ApiModel):
    """The point-in-time window and what keeping it costs: estimated from the creator's IOPS
    estimate, projected from the protected VMs' own write rate."""

    enabled: bool
    window_days: int
    window_start: Timestamp | None = Field(description="the oldest recovery point in the window")
    window_end: Timestamp | None = Field(description="the newest recovery point")
    points: int
    consistent_points: int
    estimated_data_rate_iops: int | None
    estimated_data_rate_mbps: float | None = Field(
        description="the estimated IOPS at the VMs' mean write size (4 KiB without VMs)"
    )
    estimated_storage_gb: float | None = Field(
        description="what the window keeps at the estimated rate (10^9 bytes)"
    )
    observed_data_rate_iops: float = Field(description="the protected VMs' write IOPS")
    observed_data_rate_mbps: float
    projected_storage_gb: float | None = Field(
        description="what the window keeps at the observed rate (PITR enabled only)"
    )
    estimate_covers_observed: bool | None = Field(
        description="false when the VMs write faster than the creator estimated"
    )


class StatisticsSample(ApiModel):
    at: Timestamp
    seconds: float
    incoming_mbps: float
    outgoing_mbps: float
    guest_write_mbps: float = Field(
        description="what the guests managed to write: under backpressure no faster than "
        "the log drained"
    )
    guest_write_latency_ms: float
    log_usage_percent: float
    backpressure: bool
    bitmap: bool
    rpo_seconds: float | None = Field(
        default=None,
        description="seconds from the newest recovery point to the sample's end (none before "
        "the first point, and in samples recorded before this field existed)",
    )


class AtRisk(ApiModel):
    """What losing the domain's DRVA together with its replication log would lose now."""

    drva_running: bool
    drva_down_since: Timestamp | None = Field(
        description="the DRVA's last heartbeat while it was running (null while it runs)"
    )
    unshipped_bytes: int = Field(
        description="written and logged, not in the object store yet (either mode): a recovery "
        "now lacks them"
    )
    not_on_primary_bytes: int = Field(
        description="acknowledged to write-back VMs from the log alone and not destaged to "
        "primary storage; grows while the DRVA, which destages, is down; always 0 for "
        "write-through"
    )


class StatisticsRead(ApiModel):
    """Rates in MB/s (10^6 bytes) over the last five virtual minutes; percentages of the time
    since protection started."""

    replication_state: str
    incoming_mbps: float
    outgoing_mbps: float
    guest_write_mbps: float = Field(
        description="the guests' write rate as throttled: under backpressure no faster than "
        "the log drains"
    )
    guest_write_latency_ms: float = Field(
        description="a write's latency, weighted by how much each VM writes: the log alone "
        "(write-back) or the slower of log and primary storage (write-through), times the "
        "throttling"
    )
    throttle_percent: float = Field(description="how much slower than asked the guests write")
    write_back_log_bytes: int = Field(
        description="what the log holds for write-back VMs that primary storage has not taken yet"
    )
    at_risk: AtRisk
    log_used_bytes: int
    log_capacity_bytes: int
    log_usage_percent: float
    backpressure_percent: float
    bitmap_percent: float
    put_latency_ms: float | None
    puts: int
    bytes_in: int
    bytes_out: int
    rpo_seconds: float | None
    last_error: str | None
    samples: list[StatisticsSample]
