"""Every task type the appliance knows."""

from __future__ import annotations

import dataclasses

from app.domain.clusters import tasks as cluster_tasks
from app.domain.vcenters import tasks as vcenter_tasks
from app.tasks.registry import Step, TaskDefinition, TaskRegistry


def _refresh_inventory() -> TaskDefinition:
    """Refreshing the inventory also pushes the IO filter to hosts that joined a configured
    cluster, as vCenter does for VAIO filters; the step sits before `finalize`."""
    base = vcenter_tasks.REFRESH_INVENTORY
    push = Step("push_filters", cluster_tasks.push_filters_to_new_hosts, weight=2)
    return dataclasses.replace(base, steps=(*base.steps[:-1], push, base.steps[-1]))


def build_registry() -> TaskRegistry:
    registry = TaskRegistry()
    for definition in vcenter_tasks.DEFINITIONS:
        if definition.type != vcenter_tasks.REFRESH_INVENTORY.type:
            registry.register(definition)
    registry.register(_refresh_inventory())
    for definition in cluster_tasks.DEFINITIONS:
        registry.register(definition)
    return registry
