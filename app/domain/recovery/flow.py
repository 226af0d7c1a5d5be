"""What every recovery flow shares: its operation row, the names of the VMs it creates, where
recovered VMs go (`Placement`), the runbook, the domain's mode, pausing, and destroying VMs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from app.adapters.objectstore.errors import ObjectNotFound, ObjectStoreError
from app.adapters.objectstore.port import ObjectStore
from app.adapters.vcenter.errors import VCenterNotFound
from app.adapters.vcenter.port import VmInfo
from app.domain.inventory.models import Cluster, Datastore, Network
from app.domain.inventory.service import sync_inventory
from app.domain.protection_domains.models import (
    ProtectionDomain,
)
from app.domain.protection_domains.modes import DomainMode, IllegalModeMove, move_mode
from app.domain.recovery import repository
from app.domain.recovery.models import RecoveryOperation, Runbook
from app.domain.recovery.records import RunbookPlan, runbook_plan
from app.domain.storage_format.manifest import (
    CorruptManifest,
    Manifest,
    read_manifest,
)
from app.domain.vcenters.tasks import connected
from app.tasks.registry import TaskContext, TaskFailed

GIB = 1024**3


RUNNING = "running"


PAUSED = "paused"


def rocva_name(domain: ProtectionDomain, test: bool = False) -> str:
    """A test failover has its own RocVA: a continuous failover's may be running beside it."""
    return f"jss-rocva-{domain.name}{'-test' if test else ''}"


def rehydration_vm_name(vm_name: str) -> str:
    return f"jss-rehydrate-{vm_name}"


def test_vm_name(vm_name: str) -> str:
    return f"jss-tvm-{vm_name}"


async def load_operation(ctx: TaskContext) -> RecoveryOperation:
    async with ctx.sessionmaker() as session:
        op = await session.get(RecoveryOperation, ctx.params["operation_id"])
    if op is None:
        raise TaskFailed("not_found", "the recovery operation record is gone")
    return op


async def save_operation(ctx: TaskContext, **changes: Any) -> None:
    async with ctx.sessionmaker() as session:
        await repository.update_operation(session, ctx.params["operation_id"], **changes)
        await session.commit()


async def manifest_of(store: ObjectStore, container: str) -> Manifest:
    try:
        return await read_manifest(store, container)
    except ObjectNotFound as error:
        raise TaskFailed("not_found", f"container {container} holds no manifest") from error
    except ObjectStoreError as error:
        raise TaskFailed(error.error_code, error.message) from error
    except CorruptManifest as error:
        raise TaskFailed("corrupt_manifest", str(error)) from error


class Placement:
    """Where a recovery puts its VMs at this site (the recovery settings, as morefs)."""

    def __init__(
        self,
        vcenter_id: str,
        cluster: str,
        datastore: str,
        network: str,
        test_network: str | None,
        networks: dict[str, str],
    ) -> None:
        self.vcenter_id = vcenter_id
        self.cluster = cluster
        self.datastore = datastore
        self.network = network
        self.test_network = test_network
        # network id -> moref, for runbook network mappings
        self.networks = networks


async def placement_of(ctx: TaskContext) -> Placement:
    async with ctx.sessionmaker() as session:
        settings = await repository.settings(session)
        if settings is None:
            raise TaskFailed(
                "recovery_settings_missing", "set the recovery settings (RocVA placement) first"
            )
        cluster = await session.get(Cluster, settings.cluster_id)
        datastore = await session.get(Datastore, settings.datastore_id)
        network = await session.get(Network, settings.network_id)
        test = (
            await session.get(Network, settings.test_network_id)
            if settings.test_network_id
            else None
        )
        if cluster is None or datastore is None or network is None:
            raise TaskFailed(
                "recovery_settings_stale",
                "the recovery settings name a cluster, datastore or network that is gone",
            )
        networks = await repository.network_morefs(session, cluster.vcenter_id)
    return Placement(
        cluster.vcenter_id,
        cluster.moref,
        datastore.moref,
        network.moref,
        test.moref if test else None,
        networks,
    )


async def runbook_of(ctx: TaskContext, domain_id: str) -> RunbookPlan:
    async with ctx.sessionmaker() as session:
        return runbook_plan(await session.get(Runbook, domain_id))


def is_test(op: RecoveryOperation) -> bool:
    return op.kind == "test_failover"


async def set_mode(ctx: TaskContext, target: DomainMode) -> None:
    async with ctx.sessionmaker() as session:
        domain = await session.get(ProtectionDomain, ctx.entity_id)
        if domain is None:
            raise TaskFailed("not_found", "the domain no longer exists")
        try:
            domain.mode = move_mode(domain.mode, target)
        except IllegalModeMove as error:
            raise TaskFailed("invalid_state", str(error)) from error
        domain.updated_at = ctx.clock.now()
        await session.commit()


async def pause_recovery(ctx: TaskContext, reason: str) -> None:
    await save_operation(ctx, status=PAUSED, error=reason)
    await set_mode(ctx, DomainMode.FAILBACK_PAUSED)
    ctx.result["paused"] = True
    ctx.result["reason"] = reason


async def is_paused(ctx: TaskContext) -> bool:
    return (await load_operation(ctx)).status == PAUSED


def by_name(vms: Iterable[VmInfo]) -> dict[str, VmInfo]:
    return {vm.name: vm for vm in vms}


async def destroy_vms(ctx: TaskContext, morefs: list[str]) -> None:
    if not morefs:
        return
    placement = await placement_of(ctx)
    async with connected(ctx, placement.vcenter_id) as vc:
        for moref in morefs:
            with contextlib.suppress(VCenterNotFound):
                await vc.destroy_vm(moref)
        await sync_inventory(ctx.platform, placement.vcenter_id, await vc.inventory())
