"""Real peers the tests talk to, and what happens when one is missing.

A test whose peer is missing skips with the reason, except under JETDR_REQUIRE_PEERS=1 (set by
.ci/run), where a missing peer fails the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get("JETDR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def peers_required() -> bool:
    return os.environ.get("JETDR_REQUIRE_PEERS") == "1"


def missing_peer(reason: str) -> NoReturn:
    if peers_required():
        pytest.fail(f"required peer missing: {reason}")
    pytest.skip(reason)


def _admin_engine() -> Engine:
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg")
    return create_engine(url, isolation_level="AUTOCOMMIT")


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database on the machine's server, dropped afterwards."""
    name = f"jetdr_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = _admin_engine()
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        missing_peer(f"PostgreSQL at {PG_ADMIN_URL} is not usable: {error}")
        raise
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
