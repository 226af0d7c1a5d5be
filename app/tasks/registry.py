"""What a task type is: ordered, idempotent steps, plus what to undo when it fails."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.core.clock import VirtualClock
from app.core.db import SessionMaker
from app.core.errors import TaskFailed as TaskFailed

if TYPE_CHECKING:
    from app.domain.platform import Platform


@dataclass
class TaskContext:
    task_id: str
    type: str
    entity_id: str
    actor: str
    params: dict[str, Any]
    result: dict[str, Any]
    platform: Platform
    report_progress: Callable[[float], Awaitable[None]]
    log: Callable[[str], Awaitable[None]]
    # Set before `compensate` runs: why the task is being undone (error code, message).
    failure: tuple[str, str] | None = None

    @property
    def sessionmaker(self) -> SessionMaker:
        return self.platform.sessionmaker

    @property
    def clock(self) -> VirtualClock:
        return self.platform.clock


StepFn = Callable[[TaskContext], Awaitable[None]]


@dataclass(frozen=True)
class Step:
    name: str
    run: StepFn
    weight: float = 1.0


@dataclass(frozen=True)
class TaskDefinition:
    type: str
    steps: tuple[Step, ...]
    cancellable: bool = True
    # Steps are idempotent, so a task interrupted by a crash may run its current step again.
    resume_after_restart: bool = True
    # Undo what the finished steps left behind when the task fails or is cancelled.
    compensate: StepFn | None = None

    @property
    def step_names(self) -> list[str]:
        return [step.name for step in self.steps]


@dataclass
class TaskRegistry:
    definitions: dict[str, TaskDefinition] = field(default_factory=dict)

    def register(self, definition: TaskDefinition) -> None:
        if definition.type in self.definitions:
            raise ValueError(f"task type {definition.type} is registered twice")
        self.definitions[definition.type] = definition

    def get(self, task_type: str) -> TaskDefinition | None:
        return self.definitions.get(task_type)
