"""Replicas that start together on an empty PostgreSQL database (the k8s deployment) migrate one
at a time: the others wait for the advisory lock, then find the schema at head (issue 15)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.core.db import MIGRATION_LOCK, SCHEMA_HEAD, _lock_key, sync_url
from tests.conftest import backend
from tests.peers import postgres_database

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        backend() != "postgresql", reason="a PostgreSQL lock (runs in the PostgreSQL pass)"
    ),
]


def _migrate(url: str, data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "jetdr-msa"), "migrate"],
        env={**os.environ, "JETDR_DB__URL": url, "JETDR_DATA_DIR": str(data_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _revision(url: str) -> str | None:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            exists = connection.execute(text("SELECT to_regclass('alembic_version')")).scalar()
            if exists is None:
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


def test_a_migration_waits_for_the_one_running(tmp_path: Path) -> None:
    with postgres_database() as url:
        holder = create_engine(sync_url(url))
        with holder.connect() as connection:
            connection.execute(
                text("SELECT pg_advisory_lock(:k)"), {"k": _lock_key(MIGRATION_LOCK)}
            )
            connection.commit()
            waiting = _migrate(url, tmp_path / "one")
            time.sleep(3)
            assert waiting.poll() is None, waiting.communicate()
            assert _revision(url) is None  # it has not touched the database
            connection.execute(
                text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(MIGRATION_LOCK)}
            )
            connection.commit()
            out, err = waiting.communicate(timeout=60)
        holder.dispose()
        assert waiting.returncode == 0, err
        assert "waiting" in err and "database at head" in out
        assert _revision(url) == SCHEMA_HEAD


def test_replicas_migrating_together_all_succeed(tmp_path: Path) -> None:
    with postgres_database() as url:
        replicas = [_migrate(url, tmp_path / f"replica-{n}") for n in range(3)]
        results = [(replica.wait(90), replica.communicate()) for replica in replicas]
        assert [code for code, _ in results] == [0, 0, 0], results
        assert _revision(url) == SCHEMA_HEAD
