from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class StorageSite(Base):
    __tablename__ = "storage_site"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str | None] = mapped_column(String(512))
    account_name: Mapped[str | None] = mapped_column(String(256))
    access_key_encrypted: Mapped[str | None] = mapped_column(String(2048))
    bucket_prefix: Mapped[str] = mapped_column(String(32))
    region: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[dt.datetime]
