"""Fixtures: one database per test session (SQLite by default, PostgreSQL with
JETDR_TEST_DB=postgresql), wiped between tests; an in-process appliance per test."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, inspect

from app.adapters.vcenter.simulated import SimulatedVCenter
from app.container import Container
from app.core.db import sync_url
from app.domain.platform import Platform
from app.main import create_app
from app.models import Base
from app.settings import Settings
from tests.peers import postgres_database

# `pytester` runs the pytest plugin the package ships (tests/plugin).
pytest_plugins = ["pytester"]

ROOT_PASSWORD = "root-Passw0rd!"
ROOT = ("root", ROOT_PASSWORD)
VCENTER = {
    "hostname": "vcsa-01.protected.local",
    "username": "administrator@vsphere.local",
    "password": "VMware1!",
}
TERMINAL = {"succeeded", "failed", "cancelled"}


# A test reaches the database under test through these fixtures, or by asking for the backend
# itself (the module's text names it).
DATABASE_FIXTURES = frozenset({"database_url", "database_env"})
DATABASE_WORDS = ("backend()", "postgres_database", "JETDR_TEST_DB")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # `make test` runs two pytest-xdist workers: the tests that start appliance processes go to
    # one of them, one at a time (each already keeps both cores busy), while the other runs the
    # in-process tests.
    for item in items:
        if item.get_closest_marker("e2e") is not None:
            item.add_marker(pytest.mark.xdist_group("appliance-processes"))
    # `make test`'s second run, on PostgreSQL, leaves out what does not touch the database
    # (adapter contracts, the CLI against the plugin's own appliance…): it ran on SQLite.
    if os.environ.get("JETDR_TEST_ONLY_DATABASE") == "1":
        texts: dict[Path, str] = {}

        def uses_the_database(item: pytest.Item) -> bool:
            if DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
                return True
            text = texts.setdefault(item.path, item.path.read_text())
            return any(word in text for word in DATABASE_WORDS)

        kept = [item for item in items if uses_the_database(item)]
        if len(kept) < len(items):
            staying = {id(item) for item in kept}
            config.hook.pytest_deselected(items=[i for i in items if id(i) not in staying])
            items[:] = kept


def backend() -> str:
    return os.environ.get("JETDR_TEST_DB", "sqlite")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if backend() == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'jetdr.db'}"


def wipe(url: str) -> None:
    engine = create_engine(sync_url(url))
    try:
        existing = set(inspect(engine).get_table_names())
        with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                if table.name in existing:
                    connection.execute(table.delete())
    finally:
        engine.dispose()


@pytest.fixture
def clean_database(database_url: str) -> str:
    wipe(database_url)
    return database_url


@pytest.fixture
def make_settings(clean_database: str, tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "root_password": ROOT_PASSWORD,
            "hostname": "msa.test",
            "db": {"url": clean_database},
            "clock": {"mode": "scaled", "scale": 100000},
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


async def wait_ready(client: httpx.AsyncClient) -> None:
    for _ in range(500):
        response = await client.get("/api/v1/status")
        if response.status_code == 200:
            return
        if response.json().get("status") == "degraded":
            raise AssertionError(f"appliance failed to start: {response.json()}")
        await asyncio.sleep(0.01)
    raise AssertionError("appliance did not become ready")


class Appliance:
    """An in-process appliance and a client already authenticated as root (Basic)."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client

    @property
    def container(self) -> Container:
        container: Container = self.app.state.container
        return container

    @property
    def platform(self) -> Platform:
        return self.container.platform

    @property
    def simulator(self) -> SimulatedVCenter:
        assert self.platform.simulator is not None, "the simulated vCenter is not the backend"
        return self.platform.simulator

    async def wait_task(self, task_id: str, statuses: set[str] = TERMINAL) -> dict[str, Any]:
        for _ in range(2000):
            response = await self.client.get(f"/api/v1/tasks/{task_id}")
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            if body["status"] in statuses:
                return body
            await asyncio.sleep(0.005)
        raise AssertionError(f"task {task_id} never reached {statuses}: {body}")

    async def register_vcenter(self, **overrides: Any) -> dict[str, Any]:
        response = await self.client.post("/api/v1/vcenters", json={**VCENTER, **overrides})
        assert response.status_code == 202, response.text
        return await self.wait_task(response.json()["id"])


@contextlib.asynccontextmanager
async def start_appliance(
    settings: Settings, container: Container | None = None
) -> AsyncIterator[Appliance]:
    app = create_app(settings, container)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="https://msa.test", auth=ROOT
        ) as client:
            await wait_ready(client)
            yield Appliance(app, client)


@pytest.fixture
async def appliance(settings: Settings) -> AsyncIterator[Appliance]:
    async with start_appliance(settings) as running:
        yield running


@pytest.fixture
async def client(appliance: Appliance) -> httpx.AsyncClient:
    return appliance.client


@pytest.fixture
async def registered(appliance: Appliance) -> Appliance:
    task = await appliance.register_vcenter()
    assert task["status"] == "succeeded", task
    return appliance


async def add_user(client: httpx.AsyncClient, username: str, role: str) -> tuple[str, str]:
    password = f"{username}-Passw0rd"
    response = await client.post(
        "/api/v1/users", json={"username": username, "role": role, "password": password}
    )
    assert response.status_code == 201, response.text
    return username, password


@pytest.fixture(scope="session")
def vcsim_binary() -> Path:
    from tests.peers import vcsim_server

    return vcsim_server.build()


@pytest.fixture
def vcsim(vcsim_binary: Path, tmp_path: Path) -> Iterator[Any]:
    from tests.peers import vcsim_server

    server = vcsim_server.start(vcsim_binary, tmp_path)
    try:
        yield server
    finally:
        server.stop()
