"""Deploying DR virtual appliances and giving them replication log volumes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import commit_unique
from app.core.errors import Conflict, FieldError, InvalidState, NotFound, ValidationFailed
from app.core.ids import new_id
from app.core.principal import Principal
from app.core.schemas import EntityRef
from app.domain.clusters.states import ClusterStatus
from app.domain.drvas import repository
from app.domain.drvas.images import DrvaImage, DrvaImageLibrary
from app.domain.drvas.models import Drva, ReplicationLogVolume
from app.domain.drvas.schemas import DrvaCreate, DrvaRead, VolumeCreate, VolumeRead
from app.domain.drvas.states import DrvaStatus, VolumeStatus, sources_for
from app.domain.events import service as events
from app.domain.inventory import repository as inventory
from app.domain.inventory.models import Cluster, Datastore, Host, Network
from app.domain.platform import Platform
from app.domain.usage import DOMAIN_USAGE, Used, refuse_in_use
from app.tasks.models import Task
from app.tasks.service import enqueue, start_guarded

GIB = 1024**3


def volume_read(volume: ReplicationLogVolume) -> VolumeRead:
    capacity = volume.size_gb * GIB
    return VolumeRead(
        id=volume.id,
        drva_id=volume.drva_id,
        type=volume.type,
        size_gb=volume.size_gb,
        datastore_id=volume.datastore_id,
        iscsi_target=volume.iscsi_target,
        lun=volume.lun,
        used_bytes=volume.used_bytes,
        usage_percent=round(100 * volume.used_bytes / capacity, 2) if capacity else 0.0,
        status=volume.status,
        created_at=volume.created_at,
    )


class DrvaService:
    def __init__(self, session: AsyncSession, platform: Platform) -> None:
        self.session = session
        self.platform = platform

    async def image(self) -> DrvaImage:
        images = await self.platform.worker(DrvaImageLibrary).images()
        if not images:
            raise InvalidState("no DRVA image is available", entity="appliance", state="starting")
        return images[-1]

    async def reads(self, drvas: Sequence[Drva]) -> list[DrvaRead]:
        volumes = await repository.volumes_of(self.session, [d.id for d in drvas])
        vm_ids = await repository.vm_ids(self.session, [d.vm_moref for d in drvas if d.vm_moref])
        domains = await self.platform.worker(DOMAIN_USAGE).ids_by_drva(
            self.session, [d.id for d in drvas]
        )
        return [
            DrvaRead(
                id=d.id,
                name=d.name,
                status=d.status,
                cluster_id=d.cluster_id,
                host_id=d.host_id,
                datastore_id=d.datastore_id,
                network_id=d.network_id,
                vm_id=vm_ids.get(d.vm_moref or ""),
                vm_moref=d.vm_moref,
                ip_mode=d.ip_mode,
                ip=d.ip,
                version=d.version,
                cpu=d.cpu,
                memory_gb=d.memory_gb,
                iso_path=d.iso_path,
                active_task_id=d.active_task_id,
                domains=domains[d.id],
                replication_log_volumes=[volume_read(v) for v in volumes[d.id]],
                created_at=d.created_at,
            )
            for d in drvas
        ]

    async def all(self, cluster_id: str | None) -> list[DrvaRead]:
        return await self.reads(await repository.all_(self.session, cluster_id))

    async def get(self, drva_id: str) -> Drva:
        drva = await repository.get(self.session, drva_id)
        if drva is None:
            raise NotFound(f"DRVA {drva_id} does not exist")
        return drva

    async def deploy(self, spec: DrvaCreate, actor: Principal) -> list[Task]:
        image = await self.image()
        cluster = await inventory.get(self.session, Cluster, spec.cluster_id)
        if cluster is None:
            raise ValidationFailed(
                f"cluster {spec.cluster_id} does not exist",
                field_errors=[FieldError("cluster_id", "no such cluster")],
            )
        if cluster.status != ClusterStatus.CONFIGURED.value:
            raise InvalidState(
                f"cluster {cluster.name} is {cluster.status}: DRVAs deploy on configured clusters",
                entity="cluster",
                state=cluster.status,
            )
        await self._check_placement(spec, cluster)
        hosts = await self._pick_hosts(spec, cluster)
        names = (
            [spec.name]
            if len(hosts) == 1 and spec.count is None
            else [f"{spec.name}-{index + 1}" for index in range(len(hosts))]
        )
        existing = {d.name for d in await repository.all_(self.session)}
        taken = sorted(set(names) & existing)
        if taken:
            raise Conflict(f"a DRVA named {taken[0]} already exists", error_code="already_exists")
        if spec.ip is not None and any(
            d.ip == spec.ip for d in await repository.all_(self.session)
        ):
            raise Conflict(f"{spec.ip} is already the address of a DRVA", error_code="ip_in_use")
        now = self.platform.clock.now()
        tasks = []
        for name, host in zip(names, hosts, strict=True):
            drva = Drva(
                id=new_id("drva"),
                name=name,
                cluster_id=cluster.id,
                host_id=host.id,
                datastore_id=spec.datastore_id,
                network_id=spec.network_id,
                ip_mode=spec.ip_mode,
                ip=spec.ip,
                netmask=spec.netmask,
                gateway=spec.gateway,
                dns=list(spec.dns),
                cpu=spec.cpu,
                memory_gb=spec.memory_gb,
                version=image.version,
                status=DrvaStatus.DEPLOYING.value,
                created_at=now,
                updated_at=now,
            )
            self.session.add(drva)
            task = enqueue(
                self.session,
                self.platform,
                "deploy_drva",
                EntityRef(type="drva", id=drva.id, name=name),
                actor.username,
            )
            drva.active_task_id = task.id
            events.record(
                self.session,
                at=now,
                actor=actor.username,
                action="drva.deploy_requested",
                message=f"deployment of DRVA {name} on host {host.name} requested",
                entity=("drva", drva.id, name),
                task_id=task.id,
            )
            tasks.append(task)
        await commit_unique(
            self.session,
            Conflict(
                "another DRVA was placed on one of these hosts meanwhile; at most one per host",
                error_code="host_has_drva",
            ),
        )
        self.platform.tasks.wake()
        return tasks

    async def _check_placement(self, spec: DrvaCreate, cluster: Cluster) -> None:
        problems = []
        datastore = await inventory.get(self.session, Datastore, spec.datastore_id)
        if datastore is None or cluster.id not in datastore.cluster_ids:
            problems.append(FieldError("datastore_id", f"no datastore of cluster {cluster.name}"))
        network = await inventory.get(self.session, Network, spec.network_id)
        if network is None or network.vcenter_id != cluster.vcenter_id:
            problems.append(FieldError("network_id", "no such network"))
        if problems:
            raise ValidationFailed(
                "invalid placement: " + "; ".join(p.message for p in problems),
                field_errors=problems,
            )

    async def _pick_hosts(self, spec: DrvaCreate, cluster: Cluster) -> list[Host]:
        hosts = (await inventory.hosts_of(self.session, [cluster.id]))[cluster.id]
        used = {d.host_id for d in await repository.all_(self.session)}
        if spec.host_id is not None:
            host = next((h for h in hosts if h.id == spec.host_id), None)
            if host is None:
                raise ValidationFailed(
                    f"host {spec.host_id} is not in cluster {cluster.name}",
                    field_errors=[FieldError("host_id", "not a host of the cluster")],
                )
            if host.id in used:
                raise Conflict(
                    f"host {host.name} already runs a DRVA; at most one DRVA per host",
                    error_code="host_has_drva",
                )
            return [host]
        free = [
            h
            for h in hosts
            if h.id not in used and h.connection_state == "connected" and not h.in_maintenance
        ]
        wanted = max(len(free), 1) if spec.one_per_host else spec.count or 1
        if len(free) < wanted:
            raise Conflict(
                f"cluster {cluster.name} has {len(free)} host(s) without a DRVA; "
                f"{wanted} requested (at most one DRVA per host)",
                error_code="no_free_host",
            )
        return free[:wanted]

    async def delete(self, drva_id: str, actor: Principal) -> Task:
        drva = await self.get(drva_id)
        await refuse_in_use(self.session, self.platform, Used.DRVA, drva.id)
        return await self._start(drva, "delete_drva", DrvaStatus.DELETING, actor)

    async def restart(self, drva_id: str, actor: Principal) -> Task:
        drva = await self.get(drva_id)
        return await self._start(drva, "restart_drva", DrvaStatus.DEPLOYING, actor)

    async def redeploy(self, drva_id: str, actor: Principal) -> Task:
        """A new VM for the same DRVA: same name, host, addresses and log volumes."""
        drva = await self.get(drva_id)
        return await self._start(drva, "redeploy_drva", DrvaStatus.DEPLOYING, actor)

    async def _start(
        self, drva: Drva, task_type: str, target: DrvaStatus, actor: Principal
    ) -> Task:
        return await start_guarded(
            self.session,
            self.platform,
            model=Drva,
            entity=EntityRef(type="drva", id=drva.id, name=drva.name),
            task_type=task_type,
            target=target.value,
            sources=sources_for(target),
            actor=actor.username,
            params={"previous_status": drva.status},
        )

    async def add_volume(self, drva_id: str, spec: VolumeCreate, actor: Principal) -> Task:
        drva = await self.get(drva_id)
        if drva.status not in {DrvaStatus.RUNNING.value, DrvaStatus.STOPPED.value}:
            raise InvalidState(
                f"DRVA {drva.name} is {drva.status}; volumes are added to deployed DRVAs",
                entity="drva",
                state=drva.status,
            )
        if spec.datastore_id is not None:
            datastore = await inventory.get(self.session, Datastore, spec.datastore_id)
            if datastore is None or drva.cluster_id not in datastore.cluster_ids:
                raise ValidationFailed(
                    "the datastore is not one of the DRVA's cluster",
                    field_errors=[FieldError("datastore_id", "no datastore of the DRVA's cluster")],
                )
        now = self.platform.clock.now()
        volume = ReplicationLogVolume(
            id=new_id("rlv"),
            drva_id=drva.id,
            type=spec.type,
            size_gb=spec.size_gb,
            datastore_id=spec.datastore_id,
            iscsi_target=spec.iscsi_target,
            lun=spec.lun,
            used_bytes=0,
            status=VolumeStatus.CREATING.value,
            created_at=now,
        )
        self.session.add(volume)
        task = enqueue(
            self.session,
            self.platform,
            "create_log_volume",
            EntityRef(type="replication_log_volume", id=volume.id, name=f"{drva.name}/{spec.type}"),
            actor.username,
        )
        events.record(
            self.session,
            at=now,
            actor=actor.username,
            action="replication_log_volume.create_requested",
            message=f"{spec.size_gb} GB {spec.type} log volume requested for DRVA {drva.name}",
            entity=("drva", drva.id, drva.name),
            task_id=task.id,
        )
        await self.session.commit()
        self.platform.tasks.wake()
        return task

    async def volume(self, drva_id: str, volume_id: str) -> ReplicationLogVolume:
        await self.get(drva_id)
        volume = await self.session.get(ReplicationLogVolume, volume_id)
        if volume is None or volume.drva_id != drva_id:
            raise NotFound(f"volume {volume_id} is not a volume of DRVA {drva_id}")
        return volume

    async def delete_volume(self, drva_id: str, volume_id: str, actor: Principal) -> Task:
        volume = await self.volume(drva_id, volume_id)
        await refuse_in_use(self.session, self.platform, Used.LOG_VOLUME, volume.id)
        if not await repository.mark_volume_deleting(self.session, volume.id):
            await self.session.rollback()
            current = await self.volume(drva_id, volume_id)
            raise InvalidState(
                f"volume {volume_id} is {current.status}",
                entity="replication_log_volume",
                state=current.status,
            )
        task = enqueue(
            self.session,
            self.platform,
            "delete_log_volume",
            EntityRef(type="replication_log_volume", id=volume_id, name=volume.type),
            actor.username,
        )
        await self.session.commit()
        self.platform.tasks.wake()
        return task
