"""How a protection domain, its VMs and its replication statistics read in the API (shaped from
the rows and the replication state, never stored)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from app.domain.protection_domains.health import health
from app.domain.protection_domains.models import DomainReplication, ProtectedVm, ProtectionDomain
from app.domain.protection_domains.replication_states import VmStatus
from app.domain.protection_domains.schemas import (
    AtRisk,
    DomainRead,
    PitrRead,
    PitrWindowRead,
    ProtectedDiskRead,
    ProtectedVmRead,
    RecoveryPointRead,
    StatisticsRead,
    StatisticsSample,
)
from app.domain.protection_domains.write_path import (
    WritePath,
    acknowledged_after_ms,
    write_bytes_per_second,
)
from app.domain.sites.identity import SiteDirectory

STATISTICS_WINDOW = 300.0
DEFAULT_WRITE_BYTES = 4096


def pitr_window_of(
    domain: ProtectionDomain, points: list[RecoveryPointRead], vms: Sequence[ProtectedVm]
) -> PitrWindowRead:
    """`points` newest first, as the recovery-points list gives them."""
    iops = bytes_per_second = 0.0
    for vm in vms:
        for disk in vm.disks:
            profile = disk.get("write_profile") or {}
            disk_iops = float(profile.get("write_iops", 0.0))
            iops += disk_iops
            bytes_per_second += disk_iops * float(profile.get("write_kb", 4.0)) * 1024
    write_bytes = bytes_per_second / iops if iops else DEFAULT_WRITE_BYTES
    window = domain.pitr_window_days * 86400
    estimate = domain.pitr_estimated_iops if domain.pitr_enabled else None
    estimated_rate = None if estimate is None else estimate * write_bytes
    return PitrWindowRead(
        enabled=domain.pitr_enabled,
        window_days=domain.pitr_window_days,
        window_start=points[-1].timestamp if points else None,
        window_end=points[0].timestamp if points else None,
        points=len(points),
        consistent_points=sum(1 for p in points if p.consistent),
        estimated_data_rate_iops=estimate,
        estimated_data_rate_mbps=None if estimated_rate is None else round(estimated_rate / 1e6, 3),
        estimated_storage_gb=None
        if estimated_rate is None
        else round(estimated_rate * window / 1e9, 3),
        observed_data_rate_iops=round(iops, 3),
        observed_data_rate_mbps=round(bytes_per_second / 1e6, 3),
        projected_storage_gb=round(bytes_per_second * window / 1e9, 3)
        if domain.pitr_enabled
        else None,
        estimate_covers_observed=None if estimate is None else estimate >= iops,
    )


def to_read(
    domain: ProtectionDomain,
    repl: DomainReplication | None,
    vm_count: int,
    now: float,
    sites: SiteDirectory,
) -> DomainRead:
    last = repl.last_recovery_point_at if repl is not None else None
    return DomainRead(
        id=domain.id,
        name=domain.name,
        status=domain.status,
        mode=domain.mode,
        health=health(repl, domain, now),
        primary_site=domain.primary_site,
        recovery_site=domain.recovery_site,
        owner_site=domain.owner_site,
        primary_site_name=sites.label(domain.primary_site, domain.site_names) or "",
        recovery_site_name=sites.label(domain.recovery_site, domain.site_names),
        owner_site_name=sites.label(domain.owner_site, domain.site_names) or "",
        replication_enabled=domain.replication_enabled,
        rpo_seconds=None if last is None else round(now - last.timestamp(), 3),
        rpo_target_seconds=domain.rpo_target_seconds,
        priority=domain.priority,
        vms=vm_count,
        storage_site_id=domain.storage_site_id,
        drva_id=domain.drva_id,
        replication_log_volume_id=domain.replication_log_volume_id,
        container=domain.container,
        pitr=PitrRead(
            enabled=domain.pitr_enabled,
            window_days=domain.pitr_window_days,
            estimated_data_rate_iops=domain.pitr_estimated_iops,
        ),
        last_recovery_point_at=last,
        active_task_id=domain.active_task_id,
        created_at=domain.created_at,
    )


def vm_to_read(
    vm: ProtectedVm, latest: dt.datetime | None, now: float, log_type: str | None
) -> ProtectedVmRead:
    """`latest`: the domain's latest recovery point, which holds every VM it ever held."""
    last = latest if vm.first_recovery_point_at is not None else None
    progress = 100.0
    if vm.status == VmStatus.INITIAL_SYNC.value:
        done = vm.sync_total_bytes - vm.sync_remaining_bytes
        progress = 100.0 * done / vm.sync_total_bytes if vm.sync_total_bytes else 0.0
    return ProtectedVmRead(
        vm_id=vm.vm_id,
        replica_key=vm.replica_key,
        name=vm.name,
        protection_mode=vm.protection_mode,
        write_mbps=round(write_bytes_per_second(vm.disks) / 1e6, 3),
        write_acknowledged_after_ms=round(acknowledged_after_ms(vm.protection_mode, log_type), 3),
        status=vm.status,
        rpo_seconds=None if last is None else round(now - last.timestamp(), 3),
        sync_progress=round(progress, 2),
        disks=[ProtectedDiskRead.model_validate(disk) for disk in vm.disks],
        added_at=vm.added_at,
        protected_at=vm.protected_at,
        last_recovery_point_at=last,
    )


def statistics_of(
    domain: ProtectionDomain,
    repl: DomainReplication | None,
    now: float,
    path: WritePath,
    drva_down_since: dt.datetime | None,
) -> StatisticsRead:
    """`drva_down_since`: the DRVA's last heartbeat while it is not running, else None."""
    if repl is None:
        return StatisticsRead(
            guest_write_mbps=0.0,
            guest_write_latency_ms=round(path.latency_ms, 3),
            throttle_percent=0.0,
            write_back_log_bytes=0,
            at_risk=AtRisk(
                drva_running=drva_down_since is None,
                drva_down_since=drva_down_since,
                unshipped_bytes=0,
                not_on_primary_bytes=0,
            ),
            replication_state="not_started",
            incoming_mbps=0.0,
            outgoing_mbps=0.0,
            log_used_bytes=0,
            log_capacity_bytes=0,
            log_usage_percent=0.0,
            backpressure_percent=0.0,
            bitmap_percent=0.0,
            put_latency_ms=None,
            puts=0,
            bytes_in=0,
            bytes_out=0,
            rpo_seconds=None,
            last_error=None,
            samples=[],
        )
    samples = [_sample(raw, repl.log_capacity_bytes, path) for raw in repl.samples]
    recent, seconds = [], 0.0
    for raw in reversed(repl.samples):
        if seconds >= STATISTICS_WINDOW:
            break
        recent.append(raw)
        seconds += float(raw["seconds"])
    window = seconds or 1.0
    observed = repl.observed_seconds or 1.0
    capacity = repl.log_capacity_bytes
    last = repl.last_recovery_point_at
    incoming = sum(r["in_bytes"] for r in recent) / window
    outgoing = sum(r["out_bytes"] for r in recent) / window
    guest_rate, latency = path.guest(incoming, outgoing, repl.backpressure_since is not None)
    protecting = repl.state in ("replicating", "resyncing")
    down_seconds = 0.0 if drva_down_since is None else now - drva_down_since.timestamp()
    not_on_primary = path.not_on_primary_bytes(down_seconds) if protecting else 0
    return StatisticsRead(
        replication_state=repl.state,
        incoming_mbps=round(incoming / 1e6, 3),
        outgoing_mbps=round(outgoing / 1e6, 3),
        guest_write_mbps=round(guest_rate / 1e6, 3),
        guest_write_latency_ms=round(latency, 3),
        throttle_percent=round(100.0 * (1 - guest_rate / incoming), 2) if incoming else 0.0,
        write_back_log_bytes=not_on_primary,
        at_risk=AtRisk(
            drva_running=drva_down_since is None,
            drva_down_since=drva_down_since,
            unshipped_bytes=repl.log_used_bytes,
            not_on_primary_bytes=not_on_primary,
        ),
        log_used_bytes=repl.log_used_bytes,
        log_capacity_bytes=capacity,
        log_usage_percent=round(100.0 * repl.log_used_bytes / capacity, 2) if capacity else 0.0,
        backpressure_percent=round(100.0 * repl.backpressure_seconds / observed, 2),
        bitmap_percent=round(100.0 * repl.bitmap_seconds / observed, 2),
        put_latency_ms=round(1000.0 * repl.put_seconds / repl.puts, 3) if repl.puts else None,
        puts=repl.puts,
        bytes_in=repl.bytes_in,
        bytes_out=repl.bytes_out,
        rpo_seconds=None if last is None else round(now - last.timestamp(), 3),
        last_error=repl.last_error,
        samples=samples,
    )


def _sample(raw: dict[str, Any], capacity: int, path: WritePath) -> StatisticsSample:
    seconds = float(raw["seconds"]) or 1.0
    guest_rate, latency = path.guest(
        raw["in_bytes"] / seconds, raw["out_bytes"] / seconds, bool(raw["backpressure"])
    )
    return StatisticsSample(
        guest_write_mbps=round(guest_rate / 1e6, 3),
        guest_write_latency_ms=round(latency, 3),
        at=dt.datetime.fromisoformat(raw["at"]),
        seconds=float(raw["seconds"]),
        incoming_mbps=round(raw["in_bytes"] / seconds / 1e6, 3),
        outgoing_mbps=round(raw["out_bytes"] / seconds / 1e6, 3),
        log_usage_percent=round(100.0 * raw["log_used_bytes"] / capacity, 2) if capacity else 0.0,
        backpressure=bool(raw["backpressure"]),
        bitmap=bool(raw["bitmap"]),
        rpo_seconds=raw.get("rpo_seconds"),
    )
