"""A host's issue as JetStream DR reports it, and the `host_issue` alarm that follows it.

A host of a cluster the IO filter is (or is being) installed on has an issue when vCenter says
it does not respond, when its CIM service is not running (the filter needs it), or when the last
IO-filter operation failed on it. Whenever the appliance learns a host's state (an inventory
refresh, an IO-filter operation), each host's alarm is raised or cleared to match; a host that
left the inventory has its alarm cleared."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.alarms import repository as alarms
from app.domain.alarms.service import AlarmType, raise_alarm
from app.domain.inventory import repository
from app.domain.inventory.models import Host

# The cluster statuses under which JetStream DR does not watch a cluster's hosts.
UNWATCHED = frozenset({"unconfigured"})


def blocking_issue(host: Host) -> str | None:
    """What keeps vCenter from installing anything on the host (no retry can fix it)."""
    if host.connection_state != "connected":
        return f"host {host.name} is not responding (vCenter reports it {host.connection_state})"
    if not host.cim_enabled:
        return f"the CIM service is not running on host {host.name}; the IO filter needs it"
    return None


def issue_of(host: Host, cluster_status: str | None) -> str | None:
    """The host's issue, for a host of a cluster JetStream DR watches (none otherwise): it
    cannot be reached or lacks CIM, or the last IO-filter operation failed on it."""
    if cluster_status is None or cluster_status in UNWATCHED:
        return None
    return blocking_issue(host) or host.issue


async def reconcile_host_alarms(session: AsyncSession, at: dt.datetime) -> None:
    """Raise or clear each host's `host_issue` alarm in the caller's transaction."""
    await session.flush()
    active = {
        alarm.entity_id: alarm
        for alarm in await alarms.active_of_type(session, AlarmType.HOST_ISSUE.value)
    }
    for host, cluster_status in await repository.hosts_with_cluster_status(session):
        existing = active.pop(host.id, None)
        issue = issue_of(host, cluster_status)
        if issue is None:
            if existing is not None:
                existing.cleared_at = at
        elif existing is not None:
            existing.message = issue  # the issue may have changed (a failed install, then down)
        else:
            await raise_alarm(
                session,
                alarm_type=AlarmType.HOST_ISSUE,
                entity=("host", host.id, host.name),
                message=issue,
                at=at,
            )
    for gone in active.values():  # hosts no longer in any inventory
        gone.cleared_at = at
