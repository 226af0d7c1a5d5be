"""The vCenter inventory as this appliance last discovered it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class InventoryMixin:
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    vcenter_id: Mapped[str] = mapped_column(
        ForeignKey("vcenter.id", ondelete="CASCADE"), index=True
    )
    moref: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255), index=True)


class Cluster(InventoryMixin, Base):
    __tablename__ = "cluster"
    __table_args__ = (UniqueConstraint("vcenter_id", "moref"),)

    datacenter: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32), default="unconfigured")
    iofilter_version: Mapped[str | None] = mapped_column(String(32))
    iofilter_status: Mapped[str] = mapped_column(String(32), default="not_installed")
    iofilter_id: Mapped[str | None] = mapped_column(String(128))
    last_operation: Mapped[str | None] = mapped_column(String(16))
    active_task_id: Mapped[str | None] = mapped_column(String(32))


class Host(InventoryMixin, Base):
    __tablename__ = "host"
    __table_args__ = (UniqueConstraint("vcenter_id", "moref"),)

    cluster_id: Mapped[str | None] = mapped_column(
        ForeignKey("cluster.id", ondelete="SET NULL"), index=True
    )
    esxi_version: Mapped[str] = mapped_column(String(32))
    esxi_build: Mapped[str] = mapped_column(String(32))
    cim_enabled: Mapped[bool]
    in_maintenance: Mapped[bool]
    connection_state: Mapped[str] = mapped_column(String(32))
    iofilter_status: Mapped[str] = mapped_column(String(32), default="not_installed")
    issue: Mapped[str | None] = mapped_column(String(1024))


class Datastore(InventoryMixin, Base):
    __tablename__ = "datastore"
    __table_args__ = (UniqueConstraint("vcenter_id", "moref"),)

    type: Mapped[str] = mapped_column(String(32))
    capacity_bytes: Mapped[int] = mapped_column(BigInteger)
    free_bytes: Mapped[int] = mapped_column(BigInteger)
    cluster_ids: Mapped[list[Any]] = mapped_column(default=list)


class Network(InventoryMixin, Base):
    __tablename__ = "network"
    __table_args__ = (UniqueConstraint("vcenter_id", "moref"),)

    dhcp: Mapped[bool]


class VirtualMachine(InventoryMixin, Base):
    __tablename__ = "vm"
    # Pages of VMs are in name order by default: the index walks to a page instead of sorting
    # every VM for each request.
    __table_args__ = (
        UniqueConstraint("vcenter_id", "moref"),
        Index("ix_vm_name_id", "name", "id"),
    )

    cluster_id: Mapped[str | None] = mapped_column(
        ForeignKey("cluster.id", ondelete="SET NULL"), index=True
    )
    host_id: Mapped[str | None] = mapped_column(
        ForeignKey("host.id", ondelete="SET NULL"), index=True
    )
    power_state: Mapped[str] = mapped_column(String(16))
    cpu: Mapped[int]
    memory_mb: Mapped[int]
    guest_os: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    iso_path: Mapped[str | None] = mapped_column(String(512))
    disks: Mapped[list[Any]] = mapped_column(default=list)
