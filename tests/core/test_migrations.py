from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from app.core.db import SCHEMA_HEAD, migrations_dir, schema_revision, sync_url
from app.migrate import run_migrations
from app.models import DDL_INDEXES, Base, compared_with_the_models


def test_schema_head_constant_is_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    assert ScriptDirectory.from_config(config).get_heads() == [SCHEMA_HEAD]


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", sync_url(url))
    config.attributes["configure_logging"] = False
    return config


def differences_from_models(url: str) -> list[object]:
    engine = create_engine(sync_url(url))
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": compared_with_the_models}
        )
        found = compare_metadata(context, Base.metadata)
        reflected = inspect(connection)
        # Created by DDL, not in the metadata: whichever way the schema was built, it is there.
        missing = [
            name
            for name, table in DDL_INDEXES.items()
            if name not in {index["name"] for index in reflected.get_indexes(table)}
        ]
    engine.dispose()
    return [*found, *(f"missing index {name}" for name in missing)]


def test_the_revisions_build_exactly_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    command.upgrade(alembic_config(url), "head")
    assert schema_revision(url) == SCHEMA_HEAD
    assert differences_from_models(url) == []


def test_a_first_boot_creates_the_schema_at_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert schema_revision(url) is None
    run_migrations(url)
    assert schema_revision(url) == SCHEMA_HEAD
    assert differences_from_models(url) == []


def test_an_older_database_is_upgraded_through_the_revisions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0009")
    run_migrations(url)
    assert schema_revision(url) == SCHEMA_HEAD
    assert differences_from_models(url) == []


def test_the_upgrade_keeps_the_earliest_of_duplicate_active_alarms(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'alarms.db'}"
    command.upgrade(alembic_config(url), "0011")
    engine = create_engine(sync_url(url))
    rows = [  # id, entity, raised, cleared
        ("alarm-b", "drva-1", "2026-11-26 07:00:00", None),
        ("alarm-a", "drva-1", "2026-11-26 07:00:00", None),
        ("alarm-c", "drva-1", "2026-11-26 06:00:00", "2026-11-26 06:30:00"),
        ("alarm-d", "drva-1", "2026-11-26 08:00:00", None),
        ("alarm-e", "drva-2", "2026-11-26 09:00:00", None),
    ]
    with engine.begin() as connection:
        for alarm_id, entity_id, raised_at, cleared_at in rows:
            connection.execute(
                text(
                    "INSERT INTO alarm (id, type, severity, entity_type, entity_id, message,"
                    " raised_at, cleared_at, acknowledged) VALUES (:id, 'drva_down', 'critical',"
                    " 'drva', :entity, 'down', :raised, :cleared, false)"
                ),
                {"id": alarm_id, "entity": entity_id, "raised": raised_at, "cleared": cleared_at},
            )
    run_migrations(url)
    with engine.connect() as connection:
        active = connection.execute(
            text("SELECT id FROM alarm WHERE cleared_at IS NULL ORDER BY id")
        ).scalars()
        assert list(active) == ["alarm-a", "alarm-e"]
    engine.dispose()


def test_the_upgrade_names_sites_by_id(tmp_path: Path) -> None:
    """Domains and recovery reports named sites by name before 0015: the local site's name and
    each peer's become their ids; a name this appliance never met stays as it was."""
    url = f"sqlite:///{tmp_path / 'sites.db'}"
    command.upgrade(alembic_config(url), "0014")
    engine = create_engine(sync_url(url))
    now = "2026-12-01 10:00:00"
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO appliance (id, hostname, ip, dns, ntp, local_site_id, installed_at,"
                " updated_at) VALUES (1, 'msa', '127.0.0.1', '[]', '[]', 'site-a', :now, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO site (id, name, role, peer_site_id, created_at) VALUES"
                " ('site-a', 'protected', 'local', NULL, :now),"
                " ('site-row-b', 'recovery', 'remote', 'site-b', :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO protection_domain (id, name, storage_site_id, drva_id,"
                " replication_log_volume_id, container, status, mode, health, primary_site,"
                " recovery_site, owner_site, replication_enabled, rpo_target_seconds, priority,"
                " pitr_enabled, pitr_window_days, epoch, created_at, updated_at) VALUES"
                " ('pd-1', 'erp', 'ss', 'd', 'v', 'jetdr-pd-1', 'ready', 'protecting', 'ok',"
                " 'protected', 'recovery', 'recovery', true, 300, 0, false, 3, 2, :now, :now),"
                " ('pd-2', 'web', 'ss', 'd', 'v', 'jetdr-pd-2', 'ready', 'imported', 'ok',"
                " 'far-away', NULL, 'far-away', false, 300, 0, false, 3, 1, :now, :now)"
            ),
            {"now": now},
        )
    run_migrations(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT id, primary_site, recovery_site, owner_site, site_names"
                " FROM protection_domain ORDER BY id"
            )
        ).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("pd-1", "site-a", "site-b", "site-b", "{}"),
        ("pd-2", "far-away", None, "far-away", "{}"),
    ]


def test_the_start_check_knows_every_encrypted_column() -> None:
    from app.core.integrity import ENCRYPTED_COLUMNS

    in_models = {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith("_encrypted")
    }
    assert set(ENCRYPTED_COLUMNS) == in_models
