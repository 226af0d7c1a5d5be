"""A client of the appliance's REST API on httpx, sync (`Client`) and async (`AsyncClient`).

    with Client("https://msa:8443", password="...", verify="cert.pem") as msa:
        task = msa.run("/api/v1/vcenters", {"hostname": ..., "username": ..., "password": ...},
                       on_progress=lambda t: print(t.progress))
        for vm in msa.pages("/api/v1/vms"):
            ...

Errors come back as `JetdrError` with the envelope's `error_code`; a task that fails while
waited on raises `TaskFailedError`. Both classes share the request building and the parsing
below; only the I/O differs.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx

from jetdr.errors import JetdrError, TaskFailedError, TaskTimeout
from jetdr.models import (
    Alarm,
    Cluster,
    Drva,
    Host,
    Model,
    ProtectionDomain,
    RecoveryReport,
    StorageSite,
    Task,
    VCenter,
)

M = TypeVar("M", bound=Model)
Progress = Callable[[Task], Any]
SESSION_HEADER = "x-jetdr-session"
# What `items()` and `find()` list, by name.
COLLECTIONS: dict[str, tuple[str, type[Model]]] = {
    "vcenters": ("/api/v1/vcenters", VCenter),
    "clusters": ("/api/v1/clusters", Cluster),
    "hosts": ("/api/v1/hosts", Host),
    "drvas": ("/api/v1/drvas", Drva),
    "storage-sites": ("/api/v1/storage-sites", StorageSite),
    "protection-domains": ("/api/v1/protection-domains", ProtectionDomain),
    "alarms": ("/api/v1/alarms", Alarm),
    "recovery-reports": ("/api/v1/recovery-reports", RecoveryReport),
    "tasks": ("/api/v1/tasks", Task),
}


def parse(response: httpx.Response) -> Any:
    """The body of a successful answer; a `JetdrError` built from the envelope otherwise."""
    if response.status_code < 400:
        if response.status_code == 204 or not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    raise JetdrError(
        response.status_code,
        str(body.get("error_code") or f"http_{response.status_code}"),
        str(body.get("message") or response.text[:500] or response.reason_phrase),
        op_id=body.get("op_id") or response.headers.get("x-op-id"),
        details=body.get("details"),
        field_errors=body.get("field_errors"),
    )


def _collection(kind: str) -> tuple[str, type[Model]]:
    if kind not in COLLECTIONS:
        raise ValueError(f"unknown collection {kind!r}: one of {', '.join(COLLECTIONS)}")
    return COLLECTIONS[kind]


def _page(body: Any) -> tuple[list[Any], int]:
    items = list(body.get("items") or [])
    total = int((body.get("_meta") or {}).get("total", len(items)))
    return items, total


def _finished(task: Task, check: bool) -> Task:
    if check and task.status in ("failed", "cancelled"):
        raise TaskFailedError(task)
    return task


class _Options:
    def __init__(
        self,
        url: str,
        username: str,
        password: str | None,
        verify: bool | str,
        timeout: float,
    ) -> None:
        # A path names the certificate (or CA bundle) to trust.
        trust = ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify
        self.kwargs: dict[str, Any] = {
            "base_url": url.rstrip("/"),
            "verify": trust,
            "timeout": timeout,
            "auth": (username, password) if password is not None else None,
        }


class Client:
    def __init__(
        self,
        url: str,
        *,
        username: str = "root",
        password: str | None = None,
        verify: bool | str = True,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        options = _Options(url, username, password, verify, timeout)
        self.http = httpx.Client(**options.kwargs, transport=transport)

    @classmethod
    def from_env(cls, url: str | None = None, **options: Any) -> Client:
        """A client of the appliance the environment names, as the CLI and the pytest plugin
        read it: `JETDR_MSA_URL` or `JETDR_URL`, `JETDR_USERNAME`, `JETDR_PASSWORD`,
        `JETDR_CA_FILE`, `JETDR_INSECURE=1`."""
        url = url or os.environ.get("JETDR_MSA_URL") or os.environ.get("JETDR_URL")
        if not url:
            raise ValueError("no appliance URL: set JETDR_MSA_URL (or JETDR_URL)")
        insecure = os.environ.get("JETDR_INSECURE", "").lower() in ("1", "true", "yes")
        options.setdefault("username", os.environ.get("JETDR_USERNAME", "root"))
        options.setdefault("password", os.environ.get("JETDR_PASSWORD"))
        options.setdefault("verify", False if insecure else os.environ.get("JETDR_CA_FILE") or True)
        return cls(url, **options)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, json: Any = None, params: Any = None) -> Any:
        return parse(self.http.request(method, path, json=json, params=params))

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, json: Any = None) -> Any:
        return self.request("POST", path, json=json)

    def put(self, path: str, json: Any = None) -> Any:
        return self.request("PUT", path, json=json)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def login(self) -> str:
        """Open a session (`x-jetdr-session`) and use it instead of the password."""
        session = str(self.post("/api/v1/session")["session_id"])
        self.http.headers[SESSION_HEADER] = session
        self.http.auth = httpx.Auth()
        return session

    def start(self, path: str, json: Any = None) -> Task:
        return Task.model_validate(self.post(path, json))

    def task(self, task_id: str) -> Task:
        return Task.model_validate(self.get(f"/api/v1/tasks/{task_id}"))

    def wait(
        self,
        task: Task | str,
        *,
        timeout: float = 600.0,
        poll: float = 0.25,
        on_progress: Progress | None = None,
        check: bool = True,
    ) -> Task:
        """Poll until the task ends; `on_progress` sees every state it reads."""
        current = self.task(task if isinstance(task, str) else task.id)
        deadline = time.monotonic() + timeout
        while True:
            if on_progress is not None:
                on_progress(current)
            if current.done:
                return _finished(current, check)
            if time.monotonic() >= deadline:
                raise TaskTimeout(current, timeout)
            time.sleep(poll)
            current = self.task(current.id)

    def run(self, path: str, json: Any = None, **wait: Any) -> Task:
        return self.wait(self.start(path, json), **wait)

    def pages(self, path: str, page_size: int = 100, **params: Any) -> Iterator[Any]:
        offset = 0
        while True:
            items, total = _page(self.get(path, **params, limit=page_size, offset=offset))
            yield from items
            offset += len(items)
            if not items or offset >= total:
                return

    def items(self, kind: str, **params: Any) -> list[Any]:
        path, model = _collection(kind)
        return [model.model_validate(item) for item in self.pages(path, **params)]

    def find(self, kind: str, name: str) -> Any:
        path, model = _collection(kind)
        for item in self.pages(path, name=name):
            if item.get("name", item.get("hostname")) == name:
                return model.model_validate(item)
        raise JetdrError(404, "not_found", f"no {kind} named {name}")

    # -- the emulator control plane ------------------------------------------------------

    def reset(self) -> Any:
        return self.post("/_emulator/reset")

    def advance(self, seconds: float, settle: bool = True) -> Any:
        return self.post("/_emulator/clock/advance", {"seconds": seconds, "settle": settle})

    def add_fault(self, **rule: Any) -> Any:
        return self.post("/_emulator/faults", rule)

    def clear_faults(self) -> None:
        self.delete("/_emulator/faults")

    def save_state(self, name: str, overwrite: bool = False) -> Any:
        return self.post("/_emulator/state/save", {"name": name, "overwrite": overwrite})

    def load_state(self, name: str) -> Any:
        return self.post("/_emulator/state/load", {"name": name})


class AsyncClient:
    def __init__(
        self,
        url: str,
        *,
        username: str = "root",
        password: str | None = None,
        verify: bool | str = True,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        options = _Options(url, username, password, verify, timeout)
        self.http = httpx.AsyncClient(**options.kwargs, transport=transport)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()

    async def request(self, method: str, path: str, json: Any = None, params: Any = None) -> Any:
        return parse(await self.http.request(method, path, json=json, params=params))

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params=params or None)

    async def post(self, path: str, json: Any = None) -> Any:
        return await self.request("POST", path, json=json)

    async def put(self, path: str, json: Any = None) -> Any:
        return await self.request("PUT", path, json=json)

    async def delete(self, path: str) -> Any:
        return await self.request("DELETE", path)

    async def login(self) -> str:
        session = str((await self.post("/api/v1/session"))["session_id"])
        self.http.headers[SESSION_HEADER] = session
        self.http.auth = httpx.Auth()
        return session

    async def start(self, path: str, json: Any = None) -> Task:
        return Task.model_validate(await self.post(path, json))

    async def task(self, task_id: str) -> Task:
        return Task.model_validate(await self.get(f"/api/v1/tasks/{task_id}"))

    async def wait(
        self,
        task: Task | str,
        *,
        timeout: float = 600.0,  # noqa: ASYNC109 - how long to poll, not an I/O timeout
        poll: float = 0.25,
        on_progress: Callable[[Task], Awaitable[Any] | Any] | None = None,
        check: bool = True,
    ) -> Task:
        current = await self.task(task if isinstance(task, str) else task.id)
        deadline = time.monotonic() + timeout
        while True:
            if on_progress is not None:
                outcome = on_progress(current)
                if asyncio.iscoroutine(outcome):
                    await outcome
            if current.done:
                return _finished(current, check)
            if time.monotonic() >= deadline:
                raise TaskTimeout(current, timeout)
            await asyncio.sleep(poll)
            current = await self.task(current.id)

    async def run(self, path: str, json: Any = None, **wait: Any) -> Task:
        return await self.wait(await self.start(path, json), **wait)

    async def pages(self, path: str, page_size: int = 100, **params: Any) -> AsyncIterator[Any]:
        offset = 0
        while True:
            items, total = _page(await self.get(path, **params, limit=page_size, offset=offset))
            for item in items:
                yield item
            offset += len(items)
            if not items or offset >= total:
                return

    async def items(self, kind: str, **params: Any) -> list[Any]:
        path, model = _collection(kind)
        return [model.model_validate(item) async for item in self.pages(path, **params)]

    async def find(self, kind: str, name: str) -> Any:
        path, model = _collection(kind)
        async for item in self.pages(path, name=name):
            if item.get("name", item.get("hostname")) == name:
                return model.model_validate(item)
        raise JetdrError(404, "not_found", f"no {kind} named {name}")

    async def reset(self) -> Any:
        return await self.post("/_emulator/reset")

    async def advance(self, seconds: float, settle: bool = True) -> Any:
        return await self.post("/_emulator/clock/advance", {"seconds": seconds, "settle": settle})

    async def add_fault(self, **rule: Any) -> Any:
        return await self.post("/_emulator/faults", rule)

    async def clear_faults(self) -> None:
        await self.delete("/_emulator/faults")

    async def save_state(self, name: str, overwrite: bool = False) -> Any:
        return await self.post("/_emulator/state/save", {"name": name, "overwrite": overwrite})

    async def load_state(self, name: str) -> Any:
        return await self.post("/_emulator/state/load", {"name": name})
