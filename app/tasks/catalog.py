"""Every task type the appliance knows."""

from __future__ import annotations

from app.domain.vcenters import tasks as vcenter_tasks
from app.tasks.registry import TaskRegistry


def build_registry() -> TaskRegistry:
    registry = TaskRegistry()
    for definition in vcenter_tasks.DEFINITIONS:
        registry.register(definition)
    return registry
