from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(String(512), default="")
    is_builtin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
