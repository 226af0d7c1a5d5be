"""Imports every ORM model so `Base.metadata` knows every table (Alembic, reset)."""

from app.adapters.vcenter.models import SimulatedVCenterState
from app.api.models import IdempotencyRecord
from app.core.db import Base
from app.core.ids import IdGeneration
from app.domain.alarms.models import ACTIVE_ALARM_INDEX, Alarm
from app.domain.appliance.models import Appliance
from app.domain.avs.models import ScriptExecution
from app.domain.drvas.models import Drva, ReplicationLogVolume
from app.domain.events.models import Event
from app.domain.inventory.models import Cluster, Datastore, Host, Network, VirtualMachine
from app.domain.protection_domains.models import (
    DomainReplication,
    ProtectedVm,
    ProtectionDomain,
    RecoveryPoint,
)
from app.domain.recovery.models import RecoveryOperation, Runbook
from app.domain.recovery_settings.models import RecoverySettings
from app.domain.sites.models import Site
from app.domain.storage_sites.models import StorageSite
from app.domain.users.models import User, UserSession
from app.domain.vcenters.models import VCenter
from app.tasks.models import Lease, Task, TaskEvent

__all__ = [
    "Alarm",
    "Appliance",
    "Base",
    "Cluster",
    "Datastore",
    "DomainReplication",
    "Drva",
    "Event",
    "Host",
    "IdGeneration",
    "IdempotencyRecord",
    "Lease",
    "Network",
    "ProtectedVm",
    "ProtectionDomain",
    "RecoveryOperation",
    "RecoveryPoint",
    "RecoverySettings",
    "ReplicationLogVolume",
    "Runbook",
    "ScriptExecution",
    "SimulatedVCenterState",
    "Site",
    "StorageSite",
    "Task",
    "TaskEvent",
    "User",
    "UserSession",
    "VCenter",
    "VirtualMachine",
]


# Indexes created by DDL beside the models (see each one's model), by table: not in the metadata.
DDL_INDEXES = {ACTIVE_ALARM_INDEX: "alarm"}


def compared_with_the_models(
    _object: object, name: str | None, type_: str, _reflected: bool, _compare_to: object
) -> bool:
    """Alembic's `include_object`: what autogenerate compares with the models."""
    return not (type_ == "index" and name in DDL_INDEXES)
