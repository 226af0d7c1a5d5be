"""What a recovery operation row keeps, as typed records (the row stores them as JSON)."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict, cast

from app.domain.recovery.models import RecoveryOperation, Runbook
from app.domain.recovery.schemas import RunbookVm

Outcome = Literal["pending", "skipped", "recovered", "removed"]


class HelperVm(TypedDict):
    """A VM a recovery creates for itself (the RocVA, a rehydration VM) and removes after."""

    name: str
    moref: str


class RecoveredVm(TypedDict):
    """One VM of a recovery, from rehydration to the report."""

    key: str  # the replica key: the id the VM had where it was first protected
    name: str
    outcome: Outcome
    error: str | None
    # Region contents to rebuild the VM's disks from, by disk key (dropped once recovered).
    image: NotRequired[dict[str, list[str]]]
    moref: NotRequired[str]
    vm_id: NotRequired[str]
    cpu: NotRequired[int]
    memory_mb: NotRequired[int]
    ip: NotRequired[str | None]
    powered_on_at: NotRequired[str]
    recovered_at: NotRequired[str]


def recovered_vms(op: RecoveryOperation) -> list[RecoveredVm]:
    """A copy of the operation's VM records, to change and save back."""
    return [cast(RecoveredVm, dict(vm)) for vm in op.vms]


def helper_vms(op: RecoveryOperation) -> list[HelperVm]:
    return [cast(HelperVm, dict(vm)) for vm in op.helper_vms]


def runbook_entries(runbook: Runbook | None) -> dict[str, RunbookVm]:
    """The runbook's entries by the VM they name (a replica key or a VM name)."""
    entries = (runbook.spec if runbook else {}).get("vms", [])
    return {str(entry["vm"]): RunbookVm.model_validate(entry) for entry in entries}


def runbook_entry(runbook: dict[str, RunbookVm], vm: RecoveredVm) -> RunbookVm:
    return runbook.get(vm["key"]) or runbook.get(vm["name"]) or RunbookVm(vm=vm["key"])
