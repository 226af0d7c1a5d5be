"""What a recovery operation row keeps, as typed records (the row stores them as JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict, cast

from app.domain.recovery.models import RecoveryOperation, Runbook
from app.domain.recovery.schemas import RunbookGroup, RunbookScript, RunbookVm

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
    group: NotRequired[str | None]
    network_id: NotRequired[str | None]
    powered_on_at: NotRequired[str]
    recovered_at: NotRequired[str]


def recovered_vms(op: RecoveryOperation) -> list[RecoveredVm]:
    """A copy of the operation's VM records, to change and save back."""
    return [cast(RecoveredVm, dict(vm)) for vm in op.vms]


def helper_vms(op: RecoveryOperation) -> list[HelperVm]:
    return [cast(HelperVm, dict(vm)) for vm in op.helper_vms]


class ScriptRecord(TypedDict):
    name: str
    when: str
    exit_code: int
    output: str
    started_at: str
    finished_at: str


class StageRecord(TypedDict):
    """How one stage of the runbook ran (the report's `runbook`)."""

    group: str | None
    order: int
    delay_seconds: int
    started_at: str | None
    up_at: str | None
    finished: bool
    vms: list[str]
    scripts: list[ScriptRecord]


def runbook_log(op: RecoveryOperation) -> list[StageRecord]:
    return [cast(StageRecord, dict(stage)) for stage in op.runbook_log or []]


@dataclass(frozen=True)
class Stage:
    """The independent VMs (`group` None, first), or one runbook group."""

    group: str | None
    order: int
    delay_seconds: int
    scripts: tuple[RunbookScript, ...]


class RunbookPlan:
    """A runbook as a recovery runs it: stages in order, each VM's settings and stage."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.order = int(spec.get("order", 0))
        self.stages = [Stage(None, 0, 0, ())]
        self._entries: dict[str, tuple[RunbookVm, int]] = {}
        for entry in spec.get("vms", []):
            vm = RunbookVm.model_validate(entry)
            self._entries[vm.vm] = (vm, 0)
        groups = sorted(
            (RunbookGroup.model_validate(raw) for raw in spec.get("groups", [])),
            key=lambda g: (g.order, g.name),
        )
        for group in groups:
            self.stages.append(
                Stage(group.name, group.order, group.delay_seconds, tuple(group.scripts))
            )
            for vm in group.vms:
                self._entries[vm.vm] = (vm, len(self.stages) - 1)

    def _found(self, vm: RecoveredVm) -> tuple[RunbookVm, int]:
        return (
            self._entries.get(vm["key"])
            or self._entries.get(vm["name"])
            or (RunbookVm(vm=vm["key"]), 0)
        )

    def entry(self, vm: RecoveredVm) -> RunbookVm:
        return self._found(vm)[0]

    def schedule(self, vms: list[RecoveredVm]) -> list[tuple[Stage, list[int]]]:
        """Each stage with the indices of its VMs in `vms`, in boot order."""
        members: list[list[int]] = [[] for _ in self.stages]
        for index, vm in enumerate(vms):
            members[self._found(vm)[1]].append(index)
        return [
            (
                stage,
                sorted(indices, key=lambda i: (self.entry(vms[i]).boot_order, vms[i]["name"])),
            )
            for stage, indices in zip(self.stages, members, strict=True)
        ]


def all_up(op: RecoveryOperation) -> bool:
    """Whether a recovery has brought up every VM it will (none before its rehydration)."""
    return bool(op.vms) and all(vm["outcome"] != "pending" for vm in op.vms)


def runbook_plan(runbook: Runbook | None) -> RunbookPlan:
    return RunbookPlan(runbook.spec if runbook else {})
