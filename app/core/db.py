"""SQL plumbing: the declarative base, engines, sessions and migrations."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    MetaData,
    Select,
    Table,
    TypeDecorator,
    bindparam,
    delete,
    event,
    select,
    text,
)
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool, SingletonThreadPool

from app.core.errors import AppError

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

logger = logging.getLogger(__name__)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON}


SessionMaker = async_sessionmaker[AsyncSession]


_DRIVERS = {
    # backend: (synchronous driver, asynchronous driver)
    "postgresql": ("postgresql+psycopg", "postgresql+psycopg"),
    "sqlite": ("sqlite", "sqlite+aiosqlite"),
}


def _with_driver(url: str, asynchronous: bool) -> str:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS:
        raise ValueError(f"unsupported database backend {backend!r} (use sqlite or postgresql)")
    driver = _DRIVERS[backend][1 if asynchronous else 0]
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The URL Alembic and other synchronous callers use."""
    return _with_driver(url, asynchronous=False)


def async_url(url: str) -> str:
    return _with_driver(url, asynchronous=True)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_sqlite_files_private(url: str) -> None:
    """The database file, its WAL and shared memory: 0600 (SQLite creates the latter two with
    the database file's mode, and the first migration creates that one with the umask's)."""
    if not is_sqlite(url):
        return
    database = make_url(url).database
    if not database or database == ":memory:":
        return
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = Path(database + suffix)
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(async_url(url), echo=echo)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "connect", lambda *_: make_sqlite_files_private(url))
        return engine
    return create_async_engine(
        async_url(url), echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800
    )


Read = TypeVar("Read")


class Reader:
    """Short reads (a page, one row) without a thread hand-off per statement.

    aiosqlite runs every statement on a thread of its connection: for a read that SQLite answers
    in a fraction of a millisecond, waking that thread and waiting for its answer costs ten
    times the read. On SQLite a reader therefore runs its work on the event loop, through a
    connection of its own that may only read (WAL: it never waits for a writer, and sees every
    committed write). Only bounded reads belong here (an indexed row, a page of at most
    `MAX_LIMIT` rows). On PostgreSQL the driver is asynchronous already: the work runs on a
    pooled connection of the appliance's engine, in autocommit (each statement sees what was
    committed when it ran, as on SQLite)."""

    def __init__(self, url: str, engine: AsyncEngine) -> None:
        # Autocommit: a read needs no BEGIN and no ROLLBACK, two round trips of four.
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._inline: Engine | None = None
        if is_sqlite(url):
            self._inline = create_sync_engine(
                sync_url(url),
                poolclass=SingletonThreadPool,
                connect_args={"check_same_thread": False},
            )
            event.listen(self._inline, "connect", _sqlite_reader_pragmas)

    async def run(self, work: Callable[[Connection], Read]) -> Read:
        if self._inline is not None:
            with self._inline.connect() as connection:
                return work(connection)
        async with self._engine.connect() as connection:
            return await connection.run_sync(work)

    def dispose(self) -> None:
        if self._inline is not None:
            self._inline.dispose()


@functools.cache
def _select_one(table: Table, fields: tuple[str, ...]) -> Select[Any]:
    return select(*(table.c[name] for name in fields)).where(table.c.id == bindparam("row_id"))


def read_one(
    connection: Connection, model: type[Base], fields: Iterable[str], row_id: str
) -> dict[str, Any] | None:
    """One row's `fields` by its id, as a dict (a `Reader`'s work: a read model validates it)."""
    table = model.__table__
    assert isinstance(table, Table)
    statement = _select_one(table, tuple(fields))
    row = connection.execute(statement, {"row_id": row_id}).mappings().first()
    return None if row is None else dict(row)


def _sqlite_reader_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    # A read in WAL mode waits only while the file is recovered after a crash; never long.
    cursor.execute("PRAGMA busy_timeout=1000")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> SessionMaker:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def migrations_dir() -> Path:
    packaged = Path(__file__).resolve().parent.parent / "_migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent.parent / "migrations"


# The newest Alembic revision; tests/core/test_migrations.py keeps it equal to Alembic's head.
SCHEMA_HEAD = "0020"


def schema_revision(url: str) -> str | None:
    """The revision the database is at, read without importing Alembic (start-up fast path)."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


MIGRATION_LOCK = "jetdr-msa:migrations"


@contextlib.contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """On PostgreSQL, one process migrates at a time (replicas starting together on an empty
    database): the others wait for the lock, then find the schema at head. SQLite serves one
    process."""
    if is_sqlite(url):
        yield
        return
    from sqlalchemy import create_engine

    key = _lock_key(MIGRATION_LOCK)
    engine = create_engine(sync_url(url), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            taken = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
            if not taken.scalar():
                logger.warning("another process is migrating the database: waiting for it")
                connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                connection.commit()
    finally:
        engine.dispose()


def _lock_key(name: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


async def delete_once(session: AsyncSession, row: Base) -> bool:
    """Deletes `row` in the session's transaction if it is still there; False when another
    transaction deleted it first. Of parallel deletes of one row exactly one gets True (the
    DELETE waits for the row lock, or SQLite's write lock, and then finds nothing)."""
    mapper = row.__mapper__
    keys = mapper.primary_key
    values = mapper.primary_key_from_instance(row)
    condition = [column == value for column, value in zip(keys, values, strict=True)]
    result = await session.execute(
        delete(type(row)).where(*condition),
        execution_options={"synchronize_session": False},
    )
    session.expunge(row)
    return int(getattr(result, "rowcount", 0) or 0) == 1


def insert_of(dialect_name: str) -> Any:
    """The dialect's INSERT with ON CONFLICT, imported when first needed: importing the
    PostgreSQL dialect costs an appliance on SQLite ~90 ms of start-up."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


__all__ = [
    "Base",
    "SessionMaker",
    "UtcDateTime",
    "async_url",
    "create_engine",
    "create_sessionmaker",
    "delete_once",
    "insert_of",
    "sync_url",
]


@contextlib.asynccontextmanager
async def advisory_lock(engine: AsyncEngine, *names: str) -> AsyncIterator[None]:
    """Held by one process at a time among those sharing a PostgreSQL database (session-level
    advisory locks on a connection of their own; several are taken in one order, so two
    holders of overlapping sets cannot wait on each other). SQLite serves one process: nothing
    to take."""
    if engine.dialect.name != "postgresql" or not names:
        yield
        return
    keys = sorted({_lock_key(name) for name in names})
    async with engine.connect() as connection:
        for key in keys:
            await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        await connection.commit()
        try:
            yield
        finally:
            for key in reversed(keys):
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            await connection.commit()


async def commit_unique(
    session: AsyncSession,
    conflict: AppError | Callable[[], Awaitable[AppError | None]],
) -> None:
    """Commits; a unique constraint that refuses the rows (a concurrent create of the same name)
    is rolled back and answered with `conflict` (or what it computes, once rolled back)."""
    try:
        await session.commit()
    except IntegrityError as refused:
        await session.rollback()
        error = conflict if isinstance(conflict, AppError) else await conflict()
        if error is None:
            raise
        raise error from refused
