"""Fault rules a test sets:

- `error`, `latency` and `hang` on task steps (`<task type>.<step>` or `<task type>.*`): fail
  the step, delay it (virtual milliseconds), or hold it until the rule is deleted;
- `vcenter_fault` on a vCenter operation (`create_vm`, `install_iofilter`, `connect`, … or `*`):
  the call fails with the rule's error code;
- `host_unreachable` on an ESXi host name (or `*`): the host stops responding until the rule is
  deleted;
- `cim_stopped` on an ESXi host name (or `*`): the host's CIM service stops (the IO filter needs
  it) until the rule is deleted;
- `objectstore_outage` on a storage site or a protection domain (its id, or `*`): the DRVAs'
  object-store calls fail as if the network was down;
- `drva_crash` on a DRVA id or `*`: the DRVA VMs power off when the rule is added;
- `api_crash` on a request path (a glob: `/api/v1/clusters*`, or `*`): the request fails as an
  unexpected error inside the appliance would, a 500 `internal_error` (never `/_emulator`), so
  a client's handling of a server error can be tested.

`probability` and `count` apply to every kind that is checked per call."""

from __future__ import annotations

import asyncio
import fnmatch
import random
from dataclasses import dataclass, field

from app.core.clock import VirtualClock
from app.core.errors import TaskFailed
from app.core.ids import new_id

SUPPORTED_KINDS = (
    "error",
    "latency",
    "hang",
    "vcenter_fault",
    "host_unreachable",
    "cim_stopped",
    "objectstore_outage",
    "drva_crash",
    "api_crash",
)
STEP_KINDS = frozenset({"error", "latency", "hang"})


@dataclass
class FaultRule:
    target: str
    kind: str
    probability: float = 1.0
    count: int | None = None
    delay_ms: int = 0
    error_code: str = "injected_fault"
    id: str = field(default_factory=lambda: new_id("fault"))
    hits: int = 0
    # Set when the rule is deleted: what a `hang` waits for.
    released: asyncio.Event = field(default_factory=asyncio.Event, repr=False, compare=False)

    def exhausted(self) -> bool:
        return self.count is not None and self.hits >= self.count

    def matches(self, target: str) -> bool:
        if self.kind not in STEP_KINDS or self.exhausted():
            return False
        prefix, _, step = self.target.partition(".")
        wanted_prefix, _, wanted_step = target.partition(".")
        return prefix == wanted_prefix and step in ("*", wanted_step)


@dataclass
class FaultRegistry:
    rules: list[FaultRule] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)
    # What a fault set going in the background (a DRVA crashing), kept until it is done.
    pending: set[asyncio.Task[None]] = field(default_factory=set)

    def track(self, task: asyncio.Task[None]) -> None:
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    def add(self, rule: FaultRule) -> FaultRule:
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: str) -> FaultRule | None:
        found = next((rule for rule in self.rules if rule.id == rule_id), None)
        if found is not None:
            self.rules.remove(found)
            found.released.set()
        return found

    def clear(self) -> None:
        for rule in self.rules:
            rule.released.set()
        self.rules.clear()
        for task in self.pending:
            task.cancel()

    async def before_step(self, task_type: str, step: str, clock: VirtualClock) -> None:
        target = f"{task_type}.{step}"
        for rule in self.rules:
            if not rule.matches(target) or self.rng.random() >= rule.probability:
                continue
            rule.hits += 1
            if rule.kind == "latency":
                await clock.sleep(rule.delay_ms / 1000)
            elif rule.kind == "hang":
                await rule.released.wait()
            elif rule.kind == "error":
                raise TaskFailed(rule.error_code, f"fault injected at {target} (rule {rule.id})")

    def vcenter_fault(self, operation: str) -> FaultRule | None:
        for rule in self.rules:
            if rule.kind != "vcenter_fault" or rule.exhausted():
                continue
            if rule.target not in ("*", operation) or self.rng.random() >= rule.probability:
                continue
            rule.hits += 1
            return rule
        return None

    def api_crash(self, path: str) -> FaultRule | None:
        if path.startswith("/_emulator"):
            return None
        for rule in self.rules:
            if rule.kind != "api_crash" or rule.exhausted():
                continue
            if not fnmatch.fnmatchcase(path, rule.target) or self.rng.random() >= rule.probability:
                continue
            rule.hits += 1
            return rule
        return None

    def unreachable_hosts(self) -> list[FaultRule]:
        return [rule for rule in self.rules if rule.kind == "host_unreachable"]

    def cim_stopped_hosts(self) -> list[FaultRule]:
        return [rule for rule in self.rules if rule.kind == "cim_stopped"]

    def storage_outage(self, *entity_ids: str) -> bool:
        """Whether an `objectstore_outage` rule cuts off a store used by these entities now."""
        for rule in self.rules:
            if rule.kind != "objectstore_outage" or rule.exhausted():
                continue
            if rule.target not in ("*", *entity_ids) or self.rng.random() >= rule.probability:
                continue
            rule.hits += 1
            return True
        return False
