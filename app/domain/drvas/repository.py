from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.drvas.models import Drva, ReplicationLogVolume
from app.domain.drvas.states import DrvaStatus, VolumeStatus
from app.domain.inventory.models import VirtualMachine


async def get(session: AsyncSession, drva_id: str) -> Drva | None:
    return await session.get(Drva, drva_id)


async def all_(session: AsyncSession, cluster_id: str | None = None) -> Sequence[Drva]:
    query = select(Drva).order_by(Drva.name)
    if cluster_id is not None:
        query = query.where(Drva.cluster_id == cluster_id)
    return (await session.scalars(query)).all()


async def volumes_of(
    session: AsyncSession, drva_ids: Sequence[str]
) -> dict[str, list[ReplicationLogVolume]]:
    grouped: dict[str, list[ReplicationLogVolume]] = {drva_id: [] for drva_id in drva_ids}
    if not drva_ids:
        return grouped
    rows = await session.scalars(
        select(ReplicationLogVolume)
        .where(ReplicationLogVolume.drva_id.in_(drva_ids))
        .order_by(ReplicationLogVolume.created_at, ReplicationLogVolume.id)
    )
    for volume in rows.all():
        grouped[volume.drva_id].append(volume)
    return grouped


async def vm_ids(session: AsyncSession, morefs: Sequence[str]) -> dict[str, str]:
    if not morefs:
        return {}
    rows = await session.execute(
        select(VirtualMachine.moref, VirtualMachine.id).where(VirtualMachine.moref.in_(morefs))
    )
    return dict(rows.all())


async def ready_volumes_of_running_drvas(session: AsyncSession) -> Sequence[ReplicationLogVolume]:
    return (
        await session.scalars(
            select(ReplicationLogVolume)
            .join(Drva, Drva.id == ReplicationLogVolume.drva_id)
            .where(
                Drva.status == DrvaStatus.RUNNING.value,
                ReplicationLogVolume.status == VolumeStatus.READY.value,
            )
        )
    ).all()


async def mark_volume_deleting(session: AsyncSession, volume_id: str) -> bool:
    """Moves a ready volume to `deleting`; False when it was not ready (a concurrent change)."""
    moved = await session.execute(
        update(ReplicationLogVolume)
        .where(
            ReplicationLogVolume.id == volume_id,
            ReplicationLogVolume.status == VolumeStatus.READY.value,
        )
        .values(status=VolumeStatus.DELETING.value)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(moved, "rowcount", 0))
