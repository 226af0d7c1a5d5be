"""Fault rules a test sets: `error` and `latency` on task steps (`<task type>.<step>` or
`<task type>.*`); `objectstore_outage` on a storage site or a protection domain (its id, or
`*` for every store), which makes the DRVAs' object-store calls fail as if the network was down;
`drva_crash` on a DRVA id or `*`, which powers the DRVA VMs off when the rule is added."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

from app.core.clock import VirtualClock
from app.core.ids import new_id
from app.tasks.registry import TaskFailed

SUPPORTED_KINDS = ("error", "latency", "objectstore_outage", "drva_crash")
STEP_KINDS = frozenset({"error", "latency"})


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

    def remove(self, rule_id: str) -> bool:
        before = len(self.rules)
        self.rules = [rule for rule in self.rules if rule.id != rule_id]
        return len(self.rules) != before

    def clear(self) -> None:
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
            elif rule.kind == "error":
                raise TaskFailed(rule.error_code, f"fault injected at {target} (rule {rule.id})")

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
