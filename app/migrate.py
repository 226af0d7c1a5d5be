"""Bringing a database's schema to head: the composition's job, since it needs every table."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from app.core.db import (
    SCHEMA_HEAD,
    make_sqlite_files_private,
    migration_lock,
    migrations_dir,
    schema_revision,
    sync_url,
)
from app.models import Base


def run_migrations(url: str) -> None:
    """Upgrade the schema to head. Blocking: call it from a worker thread in async code.

    An empty database (a first boot) is created from the models and stamped at head in one
    transaction, rather than replayed through every revision: the same schema (a test holds the
    revisions to the models), in a fraction of the start-up time."""
    try:
        with migration_lock(url):
            _migrate(url)
    finally:
        make_sqlite_files_private(url)


def _migrate(url: str) -> None:
    revision = schema_revision(url)
    if revision == SCHEMA_HEAD:
        return
    if revision is None and _create_at_head(url):
        return
    # Alembic is imported only when there is something to replay (start-up fast path).
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")


def _create_at_head(url: str) -> bool:
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            if inspect(connection).get_table_names():
                return False
            Base.metadata.create_all(connection)
            connection.execute(
                text(
                    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
                )
            )
            connection.execute(
                text("INSERT INTO alembic_version (version_num) VALUES (:head)"),
                {"head": SCHEMA_HEAD},
            )
        return True
    finally:
        engine.dispose()
