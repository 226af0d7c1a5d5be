"""Every task type the appliance knows."""

from __future__ import annotations

import dataclasses

from app.domain.avs import tasks as avs_tasks
from app.domain.clusters import tasks as cluster_tasks
from app.domain.drvas import tasks as drva_tasks
from app.domain.protection_domains import tasks as domain_tasks
from app.domain.recovery import tasks as recovery_tasks
from app.domain.storage_sites import tasks as storage_site_tasks
from app.domain.vcenters import tasks as vcenter_tasks
from app.tasks.registry import Step, TaskDefinition, TaskRegistry


def _with_filter_sync(base: TaskDefinition) -> TaskDefinition:
    """Discovering the inventory also reads each cluster's IO filter (and pushes it to hosts
    that joined a configured cluster); the step sits just before `finalize`."""
    sync = Step("sync_filters", cluster_tasks.sync_filters, weight=2)
    return dataclasses.replace(base, steps=(*base.steps[:-1], sync, base.steps[-1]))


WITH_FILTER_SYNC = {vcenter_tasks.REGISTER_VCENTER.type, vcenter_tasks.REFRESH_INVENTORY.type}


def build_registry() -> TaskRegistry:
    registry = TaskRegistry()
    for definition in vcenter_tasks.DEFINITIONS:
        if definition.type in WITH_FILTER_SYNC:
            definition = _with_filter_sync(definition)
        registry.register(definition)
    for definition in (
        *cluster_tasks.DEFINITIONS,
        *drva_tasks.DEFINITIONS,
        *storage_site_tasks.DEFINITIONS,
        *domain_tasks.DEFINITIONS,
        *recovery_tasks.DEFINITIONS,
        *avs_tasks.DEFINITIONS,
    ):
        registry.register(definition)
    return registry
