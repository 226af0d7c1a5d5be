"""Named state snapshots: every table (but users and their sessions, like a reset) and the
virtual clock, saved as one JSON file in `<data dir>/snapshots/` and loaded back so the API
answers exactly as it did. A snapshot names the schema revision it was taken at; loading one
from another revision is refused rather than guessed at. What lives outside the database (the
objects in a storage site) is not part of it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, select
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection

from app import __version__
from app.core.clock import ClockMode, ClockState, in_range
from app.core.db import SCHEMA_HEAD
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.security import ensure_private_dir, write_private_bytes
from app.domain.appliance.service import remember_clock
from app.domain.bootstrap import refresh_process_state
from app.domain.platform import Platform
from app.domain.replication.engine import ReplicationEngine
from app.emulator.service import PRESERVED_TABLES
from app.models import Base

FORMAT = 1
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _directory(platform: Platform) -> Path:
    return Path(platform.settings.data_dir) / "snapshots"


def _path(platform: Platform, name: str) -> Path:
    if not NAME.match(name):
        raise ValidationFailed(
            "a snapshot name is 1-64 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit"
        )
    return _directory(platform) / f"{name}.json"


def _tables() -> list[Any]:
    return [t for t in Base.metadata.sorted_tables if t.name not in PRESERVED_TABLES]


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _is_datetime(column: Any) -> bool:
    kind = column.type
    return isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime)


def _decode(column: Any, value: Any) -> Any:
    if isinstance(value, str) and _is_datetime(column):
        return dt.datetime.fromisoformat(value)
    return value


async def _dump(connection: AsyncConnection) -> dict[str, list[dict[str, Any]]]:
    tables: dict[str, list[dict[str, Any]]] = {}
    for table in _tables():
        rows = (await connection.execute(select(table))).mappings().all()
        tables[table.name] = [{key: _encode(value) for key, value in row.items()} for row in rows]
    return tables


def _write(path: Path, body: dict[str, Any]) -> int:
    ensure_private_dir(path.parent)
    temporary = path.with_suffix(".tmp")
    data = json.dumps(body, separators=(",", ":")).encode()
    write_private_bytes(temporary, data)
    os.replace(temporary, path)
    return len(data)


def _summary(name: str, body: dict[str, Any], size: int) -> dict[str, Any]:
    return {
        "name": name,
        "format": body.get("format"),
        "schema": body.get("schema"),
        "version": body.get("version"),
        "created_at": body.get("created_at"),
        "clock": body.get("clock"),
        "size_bytes": size,
        "rows": {table: len(rows) for table, rows in (body.get("tables") or {}).items()},
    }


async def save(platform: Platform, name: str, overwrite: bool) -> dict[str, Any]:
    path = _path(platform, name)
    if path.exists() and not overwrite:
        raise Conflict(f"snapshot {name} exists (save with overwrite=true to replace it)")
    # Between two replication steps, so domains and their replication state agree.
    async with platform.worker(ReplicationEngine).lock, platform.engine.connect() as connection:
        tables = await _dump(connection)
        clock = platform.clock.state()
    body = {
        "format": FORMAT,
        "product": "jetdr-msa",
        "version": __version__,
        "schema": SCHEMA_HEAD,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "clock": {"mode": clock.mode.value, "scale": clock.scale, "now": clock.now.isoformat()},
        "tables": tables,
    }
    size = await asyncio.to_thread(_write, path, body)
    return _summary(name, body, size)


def _read(path: Path) -> dict[str, Any]:
    body = json.loads(path.read_bytes())
    if not isinstance(body, dict):
        raise ValueError("not a snapshot")
    return body


async def load(platform: Platform, name: str) -> dict[str, Any]:
    path = _path(platform, name)
    if not path.exists():
        raise NotFound(f"snapshot {name} does not exist")
    try:
        body = await asyncio.to_thread(_read, path)
    except ValueError as error:
        raise Conflict(
            f"snapshot {name} is not readable: {error}", error_code="snapshot_incompatible"
        ) from error
    if body.get("format") != FORMAT or body.get("schema") != SCHEMA_HEAD:
        raise Conflict(
            f"snapshot {name} was saved by jetdr-msa {body.get('version')} (snapshot format "
            f"{body.get('format')}, schema {body.get('schema')}); this appliance reads format "
            f"{FORMAT} at schema {SCHEMA_HEAD}. Save it again from this version.",
            error_code="snapshot_incompatible",
        )
    rows, clock = _validated(name, body)
    started = time.perf_counter()
    await platform.lifecycle.pause_background()
    try:
        try:
            async with platform.engine.begin() as connection:
                tables = _tables()
                for table in reversed(tables):
                    await connection.execute(table.delete())
                for table in tables:
                    if rows[table.name]:
                        await connection.execute(table.insert(), rows[table.name])
        except (DBAPIError, StatementError) as error:
            # The transaction rolled back: the data is as it was before the load.
            raise ValidationFailed(
                f"snapshot {name} does not fit the schema: {type(error.orig or error).__name__}",
                error_code="snapshot_invalid",
            ) from error
        if platform.simulator is not None:
            platform.simulator.forget()
        platform.faults.clear()
        platform.clock.configure(mode=clock.mode, scale=clock.scale, now=clock.now)
        await remember_clock(platform)
        await refresh_process_state(platform)
    finally:
        await platform.lifecycle.resume_background()
    return {"name": name, "duration_ms": round((time.perf_counter() - started) * 1000, 3)}


def _validated(name: str, body: dict[str, Any]) -> tuple[dict[str, list[dict[str, Any]]], Any]:
    """Every row decoded and every table checked before anything changes; 422 otherwise."""

    def invalid(reason: str) -> ValidationFailed:
        return ValidationFailed(
            f"snapshot {name} is invalid: {reason}", error_code="snapshot_invalid"
        )

    tables = body.get("tables")
    if not isinstance(tables, dict):
        raise invalid("it has no tables")
    rows: dict[str, list[dict[str, Any]]] = {}
    for table in _tables():
        stored = tables.get(table.name) or []
        if not isinstance(stored, list):
            raise invalid(f"table {table.name} is not a list of rows")
        columns = {column.name: column for column in table.columns}
        required = {
            column.name
            for column in table.columns
            if not column.nullable
            and column.default is None
            and column.server_default is None
            and column.autoincrement is not True
        }
        decoded = []
        for index, row in enumerate(stored):
            if not isinstance(row, dict):
                raise invalid(f"row {index} of {table.name} is not an object")
            missing = (
                required - row.keys() - {c for c in required if columns[c].autoincrement is True}
            )
            if missing:
                raise invalid(f"row {index} of {table.name} lacks {', '.join(sorted(missing))}")
            try:
                decoded.append({k: _decode(columns[k], v) for k, v in row.items() if k in columns})
            except (TypeError, ValueError) as error:
                raise invalid(f"row {index} of {table.name}: {error}") from error
        rows[table.name] = decoded
    try:
        clock = body["clock"]
        state = ClockState(
            mode=ClockMode(clock["mode"]),
            scale=float(clock["scale"]),
            now=dt.datetime.fromisoformat(clock["now"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise invalid(f"its clock is not readable ({error})") from error
    if state.scale <= 0 or state.now.tzinfo is None or not in_range(state.now):
        raise invalid("its clock is outside what the appliance keeps")
    if len(rows["appliance"]) != 1 or not any(
        site.get("id") == rows["appliance"][0].get("local_site_id") for site in rows["site"]
    ):
        raise invalid("it has no appliance row naming its local site")
    return rows, state


async def listing(platform: Platform) -> list[dict[str, Any]]:
    def scan() -> list[dict[str, Any]]:
        found = []
        directory = _directory(platform)
        for path in sorted(directory.glob("*.json")) if directory.exists() else []:
            try:
                body = _read(path)
            except ValueError:
                continue
            found.append(_summary(path.stem, body, path.stat().st_size))
        return found

    return await asyncio.to_thread(scan)


async def delete(platform: Platform, name: str) -> None:
    path = _path(platform, name)
    try:
        # One unlink decides: of parallel deletes of a snapshot one removes it, the rest 404.
        await asyncio.to_thread(path.unlink)
    except FileNotFoundError as error:
        raise NotFound(f"snapshot {name} does not exist") from error
