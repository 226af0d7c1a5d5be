"""Checks of the data directory before the appliance starts: a database that is not one, or
encrypted secrets that the key at hand cannot open, stop the start with a clear reason instead
of a silent first boot or tasks failing later."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError

from app.core.db import is_sqlite, sync_url
from app.core.security import SECRET_KEY_FILE


class StartRefused(Exception):
    """The appliance must not start on this data; the message says why and what to do."""


def check_database_file(url: str) -> None:
    """A SQLite file that exists must be a database: an empty or corrupt one is refused."""
    if not is_sqlite(url):
        return
    database = make_url(url).database
    if not database or database == ":memory:":
        return
    path = Path(database)
    if not path.exists():
        return
    if path.stat().st_size == 0:
        raise StartRefused(
            f"the database file {path} is empty (0 bytes): restore it from a backup, or remove "
            "it to start as a new appliance"
        )
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            connection.execute(text("PRAGMA schema_version")).scalar()
            verdict = connection.execute(text("PRAGMA quick_check")).scalar()
    except DatabaseError as error:
        raise StartRefused(
            f"the database file {path} is not a readable SQLite database "
            f"({error.orig or error}): restore it from a backup, or remove it to start as a "
            "new appliance"
        ) from error
    finally:
        engine.dispose()
    if verdict != "ok":
        raise StartRefused(f"the database file {path} is damaged ({verdict}): restore it")


# Where the database keeps encrypted secrets (a test holds this to the models' `*_encrypted`
# columns); read with plain SQL so that the check does not import every model first.
ENCRYPTED_COLUMNS = (
    ("vcenter", "password_encrypted"),
    ("site", "password_encrypted"),
    ("storage_site", "access_key_encrypted"),
)


def stored_secret(url: str) -> str | None:
    """One encrypted secret the database holds, if it holds any."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            existing = set(inspect(connection).get_table_names())
            for table, column in ENCRYPTED_COLUMNS:
                if table not in existing:
                    continue
                found = connection.execute(
                    text(
                        f"SELECT {column} FROM {table} "  # noqa: S608 - names from the constant
                        f"WHERE {column} IS NOT NULL AND {column} <> '' LIMIT 1"
                    )
                ).scalar()
                if found:
                    return str(found)
    finally:
        engine.dispose()
    return None


def check_secret_key(url: str, data_dir: Path, configured_key: bytes | None) -> None:
    """Encrypted secrets need the key they were encrypted with: never make a new key over them."""
    secret = stored_secret(url)
    if secret is None:
        return
    key_path = data_dir / SECRET_KEY_FILE
    if configured_key is None and not key_path.exists():
        raise StartRefused(
            f"{key_path} is missing but the database holds encrypted secrets (vCenter, peer "
            "and storage credentials): restore the key file from a backup of this data "
            "directory (or set JETDR_SECRET_KEY); a new key cannot open them"
        )
    key = configured_key if configured_key is not None else key_path.read_text().strip().encode()
    try:
        Fernet(key).decrypt(secret.encode())
    except (InvalidToken, ValueError) as error:
        source = "JETDR_SECRET_KEY" if configured_key is not None else str(key_path)
        raise StartRefused(
            f"the key in {source} does not open the secrets this database holds: restore the "
            "key they were encrypted with"
        ) from error


def check_before_start(url: str, data_dir: Path, configured_key: bytes | None) -> None:
    check_database_file(url)
    check_secret_key(url, data_dir, configured_key)
