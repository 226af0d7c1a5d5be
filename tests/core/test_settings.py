from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.core.db import async_url, sync_url
from app.settings import Settings


def test_environment_nested_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETDR_CLOCK__MODE", "scaled")
    monkeypatch.setenv("JETDR_CLOCK__SCALE", "60")
    monkeypatch.setenv("JETDR_DB__URL", "postgresql://u:p@db:5432/msa")
    monkeypatch.setenv("JETDR_ROOT_PASSWORD", "from-env-1")
    settings = Settings()
    assert settings.clock.mode == "scaled"
    assert settings.clock.scale == 60
    assert settings.database_url == "postgresql://u:p@db:5432/msa"
    assert settings.root_password is not None
    assert "from-env-1" not in repr(settings)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="unsupported database"):
        Settings(db={"url": "mysql://root@localhost/x"})
    with pytest.raises(ValidationError):
        Settings(clock={"mode": "sideways"})
    with pytest.raises(ValidationError):
        Settings(clock={"scale": 0})


def test_drivers_are_chosen_per_backend() -> None:
    assert sync_url("postgresql://u:p@h/d") == "postgresql+psycopg://u:p@h/d"
    assert async_url("sqlite:////tmp/x.db") == "sqlite+aiosqlite:////tmp/x.db"
    assert sync_url("sqlite+aiosqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
