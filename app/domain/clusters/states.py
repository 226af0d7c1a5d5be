"""Cluster and host IO-filter states, and the moves between them."""

from __future__ import annotations

from enum import StrEnum


class ClusterStatus(StrEnum):
    UNCONFIGURED = "unconfigured"
    CONFIGURING = "configuring"
    CONFIGURED = "configured"
    PARTIALLY_CONFIGURED = "partially_configured"
    UNCONFIGURING = "unconfiguring"
    UPGRADING = "upgrading"
    ERROR = "error"


class HostFilterStatus(StrEnum):
    NOT_INSTALLED = "not_installed"
    INSTALLING = "installing"
    INSTALLED = "installed"
    FAILED = "failed"
    UNINSTALLING = "uninstalling"
    UPGRADING = "upgrading"


C = ClusterStatus
# Where each action may start from; the task's outcome decides where it ends.
TRANSITIONS: dict[ClusterStatus, frozenset[ClusterStatus]] = {
    C.UNCONFIGURED: frozenset({C.CONFIGURING}),
    C.CONFIGURING: frozenset({C.CONFIGURED, C.PARTIALLY_CONFIGURED, C.ERROR, C.UNCONFIGURED}),
    C.CONFIGURED: frozenset({C.UNCONFIGURING, C.UPGRADING, C.CONFIGURING}),
    C.PARTIALLY_CONFIGURED: frozenset({C.CONFIGURING, C.UNCONFIGURING, C.UPGRADING}),
    C.UNCONFIGURING: frozenset({C.UNCONFIGURED, C.PARTIALLY_CONFIGURED, C.ERROR}),
    C.UPGRADING: frozenset({C.CONFIGURED, C.PARTIALLY_CONFIGURED, C.ERROR}),
    C.ERROR: frozenset({C.CONFIGURING, C.UNCONFIGURING}),
}

# The in-progress status each action moves the cluster to.
ACTION_STATUS = {
    "configure": C.CONFIGURING,
    "resolve-issues": C.CONFIGURING,
    "unconfigure": C.UNCONFIGURING,
    "upgrade": C.UPGRADING,
}


def sources_for(target: ClusterStatus) -> list[str]:
    return [source.value for source, targets in TRANSITIONS.items() if target in targets]


def outcome(installed: int, total: int, *, removing: bool = False) -> ClusterStatus:
    """The cluster status after an operation, from how many hosts carry the filter."""
    if removing:
        if installed == 0:
            return C.UNCONFIGURED
        return C.PARTIALLY_CONFIGURED
    if total and installed == total:
        return C.CONFIGURED
    if installed == 0:
        return C.ERROR
    return C.PARTIALLY_CONFIGURED
