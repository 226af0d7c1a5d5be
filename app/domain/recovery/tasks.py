"""The recovery task types, each flow in its own module: `failover` (regular, planned, forced,
continuous and its completion), `failback`, `test_failover`, `handover` (the owner's side of a
planned handover) and `importing`; `rehydration` and `flow` hold what they share.

Every step is idempotent, so a recovery appliance killed mid-way resumes the step it was in:
VMs are found by name before one is created, what a step decided is committed in the operation
row, and ownership moves last, in one manifest write, once the recovered VMs run.

A recovery of a domain at this site goes: `hand_over` (planned failover and failback: the
owner shuts its VMs down and ships what its log holds) → `create_helpers` (the RocVA and a
rehydration VM per VM) → `rehydrate` (pin the recovery point, rebuild every disk from the
container) → `recover_vms` (the runbook's order, delays, sizes, networks and addresses) →
`remove_helpers` → `take_over` (the manifest names this site at a new epoch, the former owner is
fenced, protection resumes into the same container).
"""

from __future__ import annotations

from app.domain.protection_domains.tasks import release_domain
from app.domain.recovery.failback import FAILBACK
from app.domain.recovery.failover import COMPLETE, CONTINUOUS, FAILOVER, RESTORE
from app.domain.recovery.handover import drain_log, shut_down_vms, stop_for_handover
from app.domain.recovery.importing import finish_import, forget_import, import_vms
from app.domain.recovery.test_failover import STOP_TEST_FAILOVER, TEST_FAILOVER
from app.tasks.registry import Step, TaskDefinition

IMPORT_DOMAIN = TaskDefinition(
    type="import_domain",
    steps=(Step("read_container", import_vms, weight=2), Step("finalize", finish_import)),
    compensate=forget_import,
)


RELEASE_DOMAIN = TaskDefinition(
    type="release_domain",
    steps=(
        Step("shut_down", shut_down_vms),
        Step("drain_log", drain_log, weight=4),
        Step("stop", stop_for_handover),
    ),
    compensate=release_domain,
)


DEFINITIONS = (
    IMPORT_DOMAIN,
    FAILOVER,
    RESTORE,
    CONTINUOUS,
    COMPLETE,
    FAILBACK,
    TEST_FAILOVER,
    STOP_TEST_FAILOVER,
    RELEASE_DOMAIN,
)
