"""vCenter registration states and the moves between them."""

from __future__ import annotations

from enum import StrEnum


class VCenterStatus(StrEnum):
    REGISTERING = "registering"
    REGISTERED = "registered"
    ERROR = "error"
    UNREGISTERING = "unregistering"


# A failed registration removes the row; a finished unregistration removes it too.
TRANSITIONS: dict[VCenterStatus, frozenset[VCenterStatus]] = {
    VCenterStatus.REGISTERING: frozenset({VCenterStatus.REGISTERED}),
    VCenterStatus.REGISTERED: frozenset(
        {VCenterStatus.REGISTERED, VCenterStatus.ERROR, VCenterStatus.UNREGISTERING}
    ),
    VCenterStatus.ERROR: frozenset(
        {VCenterStatus.REGISTERED, VCenterStatus.ERROR, VCenterStatus.UNREGISTERING}
    ),
    VCenterStatus.UNREGISTERING: frozenset({VCenterStatus.ERROR}),
}


def sources_for(target: VCenterStatus) -> list[str]:
    return [source.value for source, targets in TRANSITIONS.items() if target in targets]
