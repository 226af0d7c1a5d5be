"""Scenario files applied at start: `JETDR_INIT_DIR` holds `*.json` / `*.yaml` files, applied in
name order while the appliance still reports `starting`, each file once per data directory
(again if its content changes). A file is a list of requests:

    - request: POST /api/v1/vcenters
      body: {hostname: vcsa-01.protected.local, username: administrator@vsphere.local,
             password: VMware1!}
    - request: PUT /_emulator/clock
      body: {mode: manual}

A request that starts a task waits for it (`wait: false` to not). Requests run in process with
admin rights. A failing request stops the init and leaves the appliance `degraded` with the
reason; the files before it stay applied."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import yaml

from app.api.deps import INITIALIZING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from app.domain.platform import Platform

SUFFIXES = (".json", ".yaml", ".yml")
TASK_POLL_SECONDS = 0.05
TASK_TIMEOUT_SECONDS = 600.0
MARKER = "init-applied.json"


class InitFailed(Exception):
    pass


def _steps(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    loaded = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if loaded is None:
        return []
    if not isinstance(loaded, list) or not all(isinstance(s, dict) for s in loaded):
        raise InitFailed(f"{path.name}: a scenario file is a list of requests")
    for index, step in enumerate(loaded, 1):
        parts = str(step.get("request", "")).split()
        if len(parts) != 2 or not parts[1].startswith("/"):
            raise InitFailed(f"{path.name} step {index}: `request` is `METHOD /path`")
    return loaded


async def _wait(client: httpx.AsyncClient, task_id: str, where: str) -> None:
    deadline = asyncio.get_running_loop().time() + TASK_TIMEOUT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        task = (await client.get(f"/api/v1/tasks/{task_id}")).json()
        if task["status"] == "succeeded":
            return
        if task["status"] in ("failed", "cancelled"):
            error = task.get("error") or {}
            raise InitFailed(
                f"{where}: task {task['type']} {task['status']}: {error.get('message')}"
            )
        await asyncio.sleep(TASK_POLL_SECONDS)
    raise InitFailed(f"{where}: task {task_id} did not finish in {TASK_TIMEOUT_SECONDS:.0f} s")


async def _apply(client: httpx.AsyncClient, path: Path) -> int:
    steps = await asyncio.to_thread(_steps, path)
    for index, step in enumerate(steps, 1):
        method, target = str(step["request"]).split()
        where = f"{path.name} step {index} ({method} {target})"
        response = await client.request(method.upper(), target, json=step.get("body"))
        if response.status_code >= 400:
            try:
                message = response.json().get("message")
            except ValueError:
                message = response.text[:200]
            raise InitFailed(f"{where}: {response.status_code} {message}")
        if response.status_code == 202 and step.get("wait", True):
            await _wait(client, str(response.json()["id"]), where)
    return len(steps)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def apply_init_dir(app: FastAPI, platform: Platform) -> list[str]:
    """Apply the scenario files not applied yet; returns the names applied now."""
    directory = platform.settings.init_dir
    if directory is None:
        return []
    if not directory.is_dir():
        raise InitFailed(f"JETDR_INIT_DIR {directory} is not a directory")
    marker = platform.settings.data_dir / MARKER
    applied: dict[str, str] = json.loads(marker.read_text()) if marker.exists() else {}
    files = sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and p.is_file())
    done: list[str] = []
    token = INITIALIZING.set(True)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://init.local") as client:
            for path in files:
                digest = _digest(path)
                if applied.get(path.name) == digest:
                    continue
                await _apply(client, path)
                applied[path.name] = digest
                marker.write_text(json.dumps(applied, indent=2))
                done.append(path.name)
    finally:
        INITIALIZING.reset(token)
    return done
