"""RocVA placement: a recovery fails at once without it, so it is checked when it is set."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import FieldError, ValidationFailed
from app.core.principal import Principal
from app.domain.events import service as events
from app.domain.inventory.models import Cluster, Datastore, Network
from app.domain.platform import Platform
from app.domain.recovery_settings.models import RecoverySettings
from app.domain.recovery_settings.schemas import RecoverySettingsRead, RecoverySettingsUpdate

ROW = 1


def to_read(settings: RecoverySettings | None) -> RecoverySettingsRead:
    if settings is None:
        return RecoverySettingsRead(configured=False)
    return RecoverySettingsRead(
        configured=True,
        cluster_id=settings.cluster_id,
        datastore_id=settings.datastore_id,
        network_id=settings.network_id,
        test_network_id=settings.test_network_id,
        updated_by=settings.updated_by,
        updated_at=settings.updated_at,
    )


async def current(session: AsyncSession) -> RecoverySettings | None:
    return await session.get(RecoverySettings, ROW)


async def replace(
    session: AsyncSession, platform: Platform, change: RecoverySettingsUpdate, actor: Principal
) -> RecoverySettings:
    cluster = await session.get(Cluster, change.cluster_id)
    datastore = await session.get(Datastore, change.datastore_id)
    network = await session.get(Network, change.network_id)
    test_network = (
        await session.get(Network, change.test_network_id) if change.test_network_id else None
    )
    problems = []
    if cluster is None:
        problems.append(FieldError("cluster_id", "no such cluster"))
    if datastore is None:
        problems.append(FieldError("datastore_id", "no such datastore"))
    elif cluster is not None and cluster.id not in datastore.cluster_ids:
        problems.append(FieldError("datastore_id", f"not attached to cluster {cluster.name}"))
    if network is None:
        problems.append(FieldError("network_id", "no such network"))
    elif not network.dhcp:
        problems.append(
            FieldError(
                "network_id", f"{network.name} has no DHCP: the RocVA takes its address from DHCP"
            )
        )
    if change.test_network_id and test_network is None:
        problems.append(FieldError("test_network_id", "no such network"))
    if problems:
        raise ValidationFailed(
            "invalid recovery settings: " + "; ".join(p.message for p in problems),
            field_errors=problems,
        )
    now = platform.clock.now()
    settings = await current(session)
    if settings is None:
        settings = RecoverySettings(id=ROW)
        session.add(settings)
    settings.cluster_id = change.cluster_id
    settings.datastore_id = change.datastore_id
    settings.network_id = change.network_id
    settings.test_network_id = change.test_network_id
    settings.updated_by = actor.username
    settings.updated_at = now
    assert cluster is not None and datastore is not None and network is not None
    events.record(
        session,
        at=now,
        actor=actor.username,
        action="recovery_settings.updated",
        message=f"RocVA placement: cluster {cluster.name}, datastore {datastore.name}, "
        f"network {network.name}",
        entity=("recovery_settings", str(ROW), None),
    )
    await session.commit()
    return settings
