"""The simulated vCenter's table: its whole state as one JSON row per vCenter."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class SimulatedVCenterState(Base):
    """One row: the whole simulated vCenter as JSON."""

    __tablename__ = "sim_vcenter_state"

    hostname: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[dict[str, Any]]
