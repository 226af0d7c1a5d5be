from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class Site(Base):
    __tablename__ = "site"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(String(512))
    username: Mapped[str | None] = mapped_column(String(128))
    password_encrypted: Mapped[str | None] = mapped_column(String(1024))
    reachable: Mapped[bool | None]
    # A peer: the SHA-256 its certificate is pinned to, and its own id for itself.
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    peer_site_id: Mapped[str | None] = mapped_column(String(32))
    last_checked_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[dt.datetime]
