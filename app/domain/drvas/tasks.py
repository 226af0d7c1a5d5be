"""Task types of DRVAs and their replication log volumes. A failed deployment removes what it
created: the VM, and the ISO when no other DRVA boots from it."""

from __future__ import annotations

import contextlib

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.vcenter.errors import VCenterNotFound
from app.adapters.vcenter.port import VCenterSession, VmSpec
from app.domain.alarms.service import AlarmType, clear_alarm, raise_alarm
from app.domain.appliance.models import Appliance
from app.domain.drvas import repository
from app.domain.drvas.images import DrvaImage, DrvaImageLibrary
from app.domain.drvas.models import Drva, ReplicationLogVolume
from app.domain.drvas.states import DrvaStatus, VolumeStatus
from app.domain.events import service as events
from app.domain.inventory import repository as inventory
from app.domain.inventory.models import Cluster, Datastore, Host, Network
from app.domain.inventory.service import sync_inventory
from app.domain.plugin.package import appliance_url
from app.domain.vcenters.tasks import connected
from app.tasks.registry import Step, TaskContext, TaskDefinition, TaskFailed

SYSTEM_DISK_GB = 16
IP_POLL_SECONDS = 2.0
IP_TIMEOUT_SECONDS = 300.0


async def _drva(session: AsyncSession, drva_id: str) -> Drva:
    drva = await repository.get(session, drva_id)
    if drva is None:
        raise TaskFailed("not_found", f"DRVA {drva_id} no longer exists")
    return drva


async def _vcenter_id(ctx: TaskContext, drva: Drva) -> str:
    async with ctx.sessionmaker() as session:
        cluster = await inventory.get(session, Cluster, drva.cluster_id)
    if cluster is None:
        raise TaskFailed("not_found", "the DRVA's cluster no longer exists")
    return cluster.vcenter_id


async def _image(ctx: TaskContext, version: str) -> DrvaImage:
    for image in await ctx.platform.worker(DrvaImageLibrary).images():
        if image.version == version:
            return image
    raise TaskFailed("image_missing", f"no DRVA image for version {version}")


async def _morefs(session: AsyncSession, drva: Drva) -> tuple[str, str, str, str]:
    cluster = await inventory.get(session, Cluster, drva.cluster_id)
    host = await inventory.get(session, Host, drva.host_id)
    datastore = await inventory.get(session, Datastore, drva.datastore_id)
    network = await inventory.get(session, Network, drva.network_id)
    if cluster is None or host is None or datastore is None or network is None:
        raise TaskFailed("placement_gone", "the cluster, host, datastore or network is gone")
    return cluster.moref, host.moref, datastore.moref, network.moref


async def validate(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        drva = await _drva(session, ctx.entity_id)
        cluster_moref, host_moref, datastore_moref, network_moref = await _morefs(session, drva)
    async with connected(ctx, await _vcenter_id(ctx, drva)) as vc:
        facts = await vc.inventory()
    host = next((h for h in facts.hosts if h.moref == host_moref), None)
    if host is None or host.cluster_moref != cluster_moref:
        raise TaskFailed("placement_gone", "the host has left the cluster")
    if host.connection_state != "connected":
        raise TaskFailed("host_unreachable", f"host {host.name} is {host.connection_state}")
    if not any(d.moref == datastore_moref for d in facts.datastores):
        raise TaskFailed("placement_gone", "the datastore is gone")
    if not any(n.moref == network_moref for n in facts.networks):
        raise TaskFailed("placement_gone", "the network is gone")


async def upload_iso(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        drva = await _drva(session, ctx.entity_id)
        _c, _h, datastore_moref, _n = await _morefs(session, drva)
    image = await _image(ctx, drva.version)
    content = image.path.read_bytes()
    async with connected(ctx, await _vcenter_id(ctx, drva)) as vc:
        iso_path = await vc.upload_file(datastore_moref, image.datastore_path, content)
    async with ctx.sessionmaker() as session:
        drva = await _drva(session, ctx.entity_id)
        drva.iso_path = iso_path
        await session.commit()
    ctx.result["iso"] = {"path": iso_path, "sha256": image.sha256}


def _guestinfo(drva: Drva, msa_url: str) -> tuple[tuple[str, str], ...]:
    settings = {
        "guestinfo.jetstream.ip_mode": drva.ip_mode,
        "guestinfo.jetstream.msa_url": msa_url,
        "guestinfo.jetstream.name": drva.name,
    }
    if drva.ip_mode == "static":
        settings |= {
            "guestinfo.jetstream.ip": drva.ip or "",
            "guestinfo.jetstream.netmask": drva.netmask or "",
            "guestinfo.jetstream.gateway": drva.gateway or "",
            "guestinfo.jetstream.dns": ",".join(drva.dns),
        }
    return tuple(sorted(settings.items()))


async def create_vm(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        drva = await _drva(session, ctx.entity_id)
        if drva.vm_moref is not None:
            return
        cluster_moref, host_moref, datastore_moref, network_moref = await _morefs(session, drva)
        appliance = await session.get(Appliance, 1)
        assert appliance is not None
    msa_url = appliance_url(appliance.hostname, ctx.platform.settings.port)
    spec = VmSpec(
        name=drva.name,
        cluster_moref=cluster_moref,
        host_moref=host_moref,
        datastore_moref=datastore_moref,
        network_moref=network_moref,
        cpu=drva.cpu,
        memory_mb=drva.memory_gb * 1024,
        iso_path=drva.iso_path,
        disks_gb=(SYSTEM_DISK_GB,),
        extra_config=_guestinfo(drva, msa_url),
    )
    async with connected(ctx, await _vcenter_id(ctx, drva)) as vc:
        vm = await vc.create_vm(spec)
    async with ctx.sessionmaker() as session:
        drva = await _drva(session, ctx.entity_id)
        drva.vm_moref = vm.moref
        await session.commit()
    ctx.result["vm"] = {"moref": vm.moref, "name": vm.name}


async def power_on(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        drva = await _drva(session, ctx.entity_id)
    assert drva.vm_moref is not None
    async with connected(ctx, await _vcenter_id(ctx, drva)) as vc:
        if (await vc.get_vm(drva.vm_moref)).power_state != "poweredOn":
            await vc.power_on_vm(drva.vm_moref)


async def wait_for_ip(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        drva = await _drva(session, ctx.entity_id)
    assert drva.vm_moref is not None
    waited = 0.0
    async with connected(ctx, await _vcenter_id(ctx, drva)) as vc:
        while True:
            ip = (await vc.get_vm(drva.vm_moref)).ip
            if ip and (drva.ip_mode == "dhcp" or ip == drva.ip):
                break
            if waited >= IP_TIMEOUT_SECONDS:
                raise TaskFailed(
                    "drva_no_ip",
                    f"DRVA {drva.name} reported no IP address in {IP_TIMEOUT_SECONDS:.0f} s",
                )
            await ctx.clock.sleep(IP_POLL_SECONDS)
            waited += IP_POLL_SECONDS
            await ctx.report_progress(min(0.9, waited / IP_TIMEOUT_SECONDS))
    async with ctx.sessionmaker() as session:
        drva = await _drva(session, ctx.entity_id)
        drva.ip = ip
        await session.commit()
    ctx.result["ip"] = ip


async def _sync_inventory(ctx: TaskContext, vc: VCenterSession, vcenter_id: str) -> None:
    await sync_inventory(ctx.platform, vcenter_id, await vc.inventory())


async def register(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        drva = await _drva(session, ctx.entity_id)
    vcenter_id = await _vcenter_id(ctx, drva)
    async with connected(ctx, vcenter_id) as vc:
        await _sync_inventory(ctx, vc, vcenter_id)
    async with ctx.sessionmaker() as session:
        drva = await _drva(session, ctx.entity_id)
        drva.status = DrvaStatus.RUNNING.value
        drva.active_task_id = None
        drva.updated_at = ctx.clock.now()
        drva.last_heartbeat_at = ctx.clock.now()
        await clear_alarm(
            session, alarm_type=AlarmType.DRVA_DOWN, entity_id=drva.id, at=ctx.clock.now()
        )
        events.record(
            session,
            at=ctx.clock.now(),
            actor=ctx.actor,
            action="drva.deployed",
            message=f"DRVA {drva.name} runs at {drva.ip}",
            entity=("drva", drva.id, drva.name),
            task_id=ctx.task_id,
        )
        await session.commit()


async def _remove_vm_and_iso(ctx: TaskContext, drva: Drva) -> None:
    async with ctx.sessionmaker() as session:
        _c, _h, datastore_moref, _n = await _morefs(session, drva)
        sharing = [
            other
            for other in await repository.all_(session)
            if other.id != drva.id
            and other.iso_path == drva.iso_path
            and other.datastore_id == drva.datastore_id
        ]
    vcenter_id = await _vcenter_id(ctx, drva)
    async with connected(ctx, vcenter_id) as vc:
        if drva.vm_moref is not None:
            with contextlib.suppress(VCenterNotFound):
                await vc.destroy_vm(drva.vm_moref)
        if drva.iso_path is not None and not sharing:
            relative = drva.iso_path.split("] ", 1)[-1]
            with contextlib.suppress(VCenterNotFound):
                await vc.delete_file(datastore_moref, relative)
        await _sync_inventory(ctx, vc, vcenter_id)


async def undo_deployment(ctx: TaskContext) -> None:
    code, message = ctx.failure or ("failed", "the deployment failed")
    async with ctx.sessionmaker() as session:
        drva = await repository.get(session, ctx.entity_id)
    if drva is None:
        return
    await _remove_vm_and_iso(ctx, drva)
    await _forget(
        ctx,
        "drva.deploy_failed",
        f"deployment of DRVA {drva.name} failed and was rolled back: {message}",
        {"error_code": code},
    )


async def destroy(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        drva = await repository.get(session, ctx.entity_id)
    if drva is not None:
        await _remove_vm_and_iso(ctx, drva)


async def _forget(
    ctx: TaskContext, action: str, message: str, details: dict[str, str] | None = None
) -> None:
    async with ctx.sessionmaker() as session:
        drva = await repository.get(session, ctx.entity_id)
        if drva is None:
            return
        await session.delete(drva)
        events.record(
            session,
            at=ctx.clock.now(),
            actor=ctx.actor,
            action=action,
            message=message,
            entity=("drva", drva.id, drva.name),
            task_id=ctx.task_id,
            details=details,
        )
        await session.commit()


async def forget(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        drva = await repository.get(session, ctx.entity_id)
    if drva is not None:
        await _forget(ctx, "drva.deleted", f"DRVA {drva.name} deleted")


async def power_off(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        drva = await _drva(session, ctx.entity_id)
    if drva.vm_moref is None:
        raise TaskFailed("no_vm", f"DRVA {drva.name} has no VM; redeploy it")
    async with connected(ctx, await _vcenter_id(ctx, drva)) as vc:
        vm = await vc.get_vm(drva.vm_moref)
        if vm.power_state == "poweredOn":
            await vc.power_off_vm(drva.vm_moref)


async def remove_old_vm(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        drva = await _drva(session, ctx.entity_id)
        if drva.vm_moref is None:
            return
    async with connected(ctx, await _vcenter_id(ctx, drva)) as vc:
        with contextlib.suppress(VCenterNotFound):
            await vc.destroy_vm(drva.vm_moref)
    async with ctx.sessionmaker() as session:
        drva = await _drva(session, ctx.entity_id)
        drva.vm_moref = None
        drva.ip = drva.ip if drva.ip_mode == "static" else None
        volumes = (await repository.volumes_of(session, [drva.id]))[drva.id]
        for volume in volumes:
            volume.disk_key = None
        await session.commit()


async def reattach_volumes(ctx: TaskContext) -> None:
    """VMDK logs come back as new disks of the same size (a log holds no state to keep)."""
    async with ctx.sessionmaker() as session:
        drva = await _drva(session, ctx.entity_id)
        volumes = (await repository.volumes_of(session, [drva.id]))[drva.id]
        pending = [
            (v.id, v.size_gb, (await inventory.get(session, Datastore, v.datastore_id)))
            for v in volumes
            if v.type == "vmdk" and v.disk_key is None and v.datastore_id
        ]
    if not pending:
        return
    assert drva.vm_moref is not None
    async with connected(ctx, await _vcenter_id(ctx, drva)) as vc:
        for volume_id, size_gb, datastore in pending:
            if datastore is None:
                raise TaskFailed("placement_gone", f"the datastore of volume {volume_id} is gone")
            disk = await vc.add_disk(drva.vm_moref, datastore.moref, size_gb)
            async with ctx.sessionmaker() as session:
                volume = await _volume(session, volume_id)
                volume.disk_key = disk.key
                volume.used_bytes = 0
                await session.commit()


async def fail_drva(ctx: TaskContext) -> None:
    """A failed restart or redeploy leaves the DRVA `failed` (its identity and volumes stay)."""
    async with ctx.sessionmaker() as session:
        drva = await repository.get(session, ctx.entity_id)
        if drva is None or drva.active_task_id != ctx.task_id:
            return
        drva.active_task_id = None
        drva.status = DrvaStatus.FAILED.value
        await raise_alarm(
            session,
            alarm_type=AlarmType.DRVA_DOWN,
            entity=("drva", drva.id, drva.name),
            message=f"DRVA {drva.name} did not come back: {(ctx.failure or ('', ''))[1]}",
            at=ctx.clock.now(),
        )
        await session.commit()


async def release_drva(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        drva = await repository.get(session, ctx.entity_id)
        if drva is None or drva.active_task_id != ctx.task_id:
            return
        drva.active_task_id = None
        drva.status = str(ctx.params.get("previous_status", DrvaStatus.FAILED.value))
        await session.commit()


async def _volume(session: AsyncSession, volume_id: str) -> ReplicationLogVolume:
    volume = await session.get(ReplicationLogVolume, volume_id)
    if volume is None:
        raise TaskFailed("not_found", f"volume {volume_id} no longer exists")
    return volume


async def attach_volume(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        volume = await _volume(session, ctx.entity_id)
        drva = await _drva(session, volume.drva_id)
        datastore = (
            await inventory.get(session, Datastore, volume.datastore_id)
            if volume.datastore_id
            else None
        )
    if volume.type == "iscsi" or volume.disk_key is not None:
        # An iSCSI log is a LUN the DRVA logs in to; nothing changes in vCenter.
        await ctx.clock.sleep(2.0)
        return
    if datastore is None or drva.vm_moref is None:
        raise TaskFailed("placement_gone", "the DRVA's VM or the datastore is gone")
    vcenter_id = await _vcenter_id(ctx, drva)
    async with connected(ctx, vcenter_id) as vc:
        disk = await vc.add_disk(drva.vm_moref, datastore.moref, volume.size_gb)
        async with ctx.sessionmaker() as session:
            volume = await _volume(session, ctx.entity_id)
            volume.disk_key = disk.key
            await session.commit()
        await _sync_inventory(ctx, vc, vcenter_id)


async def volume_ready(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        volume = await _volume(session, ctx.entity_id)
        volume.status = VolumeStatus.READY.value
        await session.commit()
    ctx.result["volume_id"] = ctx.entity_id


async def undo_volume(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        volume = await session.get(ReplicationLogVolume, ctx.entity_id)
        if volume is None:
            return
        drva = await repository.get(session, volume.drva_id)
        disk_key = volume.disk_key
    if disk_key is not None and drva is not None and drva.vm_moref is not None:
        with contextlib.suppress(VCenterNotFound):
            async with connected(ctx, await _vcenter_id(ctx, drva)) as vc:
                await vc.remove_disk(drva.vm_moref, disk_key)
    async with ctx.sessionmaker() as session:
        volume = await session.get(ReplicationLogVolume, ctx.entity_id)
        if volume is not None:
            await session.delete(volume)
            await session.commit()


async def detach_volume(ctx: TaskContext) -> None:
    await undo_volume(ctx)


async def restore_volume(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        volume = await session.get(ReplicationLogVolume, ctx.entity_id)
        if volume is not None:
            volume.status = VolumeStatus.READY.value
            await session.commit()


DEPLOY_DRVA = TaskDefinition(
    type="deploy_drva",
    steps=(
        Step("validate", validate),
        Step("upload_iso", upload_iso, weight=2),
        Step("create_vm", create_vm, weight=2),
        Step("power_on", power_on),
        Step("wait_for_ip", wait_for_ip, weight=2),
        Step("register", register),
    ),
    cancellable=False,
    compensate=undo_deployment,
)
DELETE_DRVA = TaskDefinition(
    type="delete_drva",
    steps=(Step("destroy_vm", destroy, weight=3), Step("forget", forget)),
    cancellable=False,
    compensate=release_drva,
)
CREATE_LOG_VOLUME = TaskDefinition(
    type="create_log_volume",
    steps=(Step("attach", attach_volume, weight=3), Step("ready", volume_ready)),
    cancellable=False,
    compensate=undo_volume,
)
DELETE_LOG_VOLUME = TaskDefinition(
    type="delete_log_volume",
    steps=(Step("detach", detach_volume),),
    cancellable=False,
    compensate=restore_volume,
)

RESTART_DRVA = TaskDefinition(
    type="restart_drva",
    steps=(
        Step("power_off", power_off),
        Step("power_on", power_on),
        Step("wait_for_ip", wait_for_ip, weight=2),
        Step("register", register),
    ),
    cancellable=False,
    compensate=fail_drva,
)
REDEPLOY_DRVA = TaskDefinition(
    type="redeploy_drva",
    steps=(
        Step("validate", validate),
        Step("remove_old_vm", remove_old_vm),
        Step("upload_iso", upload_iso, weight=2),
        Step("create_vm", create_vm, weight=2),
        Step("power_on", power_on),
        Step("wait_for_ip", wait_for_ip, weight=2),
        Step("reattach_volumes", reattach_volumes),
        Step("register", register),
    ),
    cancellable=False,
    compensate=fail_drva,
)

DEFINITIONS = (
    DEPLOY_DRVA,
    DELETE_DRVA,
    RESTART_DRVA,
    REDEPLOY_DRVA,
    CREATE_LOG_VOLUME,
    DELETE_LOG_VOLUME,
)
