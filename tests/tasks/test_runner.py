"""Task lifecycle: progress, cancel, and what a restart does to unfinished tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import text

from app.container import build_container
from app.settings import Settings
from app.tasks.registry import Step, TaskContext, TaskDefinition
from tests.conftest import VCENTER, Appliance, start_appliance

MANUAL = {"mode": "manual"}


async def _wait_step(
    appliance: Appliance, task_id: str, step: str, advance: float = 0
) -> dict[str, object]:
    """Wait until `step` runs, advancing the manual clock by `advance` seconds per poll."""
    for _ in range(1000):
        task = (await appliance.client.get(f"/api/v1/tasks/{task_id}")).json()
        if any(s["name"] == step and s["status"] == "running" for s in task["steps"]):
            return dict(task)
        if advance:
            await appliance.client.post("/_emulator/clock/advance", json={"seconds": advance})
        await asyncio.sleep(0.005)
    raise AssertionError(f"{step} never started: {task}")


async def test_task_progresses_step_by_step_with_the_clock(
    make_settings: Callable[..., Settings],
) -> None:
    async with start_appliance(make_settings(clock=MANUAL)) as appliance:
        task = (await appliance.client.post("/api/v1/vcenters", json=VCENTER)).json()
        assert task["status"] == "queued" and task["progress"] == 0
        running = await _wait_step(appliance, task["id"], "connect")
        assert running["status"] == "running" and running["started_at"]
        second = await _wait_step(appliance, task["id"], "check_version", advance=0.5)
        assert 0 < int(str(second["progress"])) < 100
        assert (await appliance.client.get("/api/v1/vcenters")).json()["items"][0][
            "status"
        ] == "registering"
        await appliance.client.put("/_emulator/clock", json={"mode": "scaled", "scale": 100000})
        done = await appliance.wait_task(task["id"])
        assert done["status"] == "succeeded" and done["progress"] == 100
        events = (await appliance.client.get(f"/api/v1/tasks/{task['id']}/events")).json()
        kinds = [e["message"] for e in events if e["kind"] == "step"]
        assert kinds == [
            "connect",
            "check_version",
            "check_clock_skew",
            "register_plugin",
            "discover_inventory",
            "sync_filters",
            "finalize",
        ]


async def test_cancel_a_running_registration_undoes_it(
    make_settings: Callable[..., Settings],
) -> None:
    async with start_appliance(make_settings(clock=MANUAL)) as appliance:
        task = (await appliance.client.post("/api/v1/vcenters", json=VCENTER)).json()
        await _wait_step(appliance, task["id"], "register_plugin", advance=0.5)
        cancel = await appliance.client.post(f"/api/v1/tasks/{task['id']}/actions/cancel")
        assert cancel.status_code == 202
        assert cancel.json()["status"] in {"cancelling", "cancelled"}
        done = await appliance.wait_task(task["id"])
        assert done["status"] == "cancelled"
        assert (await appliance.client.get("/api/v1/vcenters")).json()["_meta"]["total"] == 0
        again = await appliance.client.post(f"/api/v1/tasks/{task['id']}/actions/cancel")
        assert again.status_code == 409
        assert again.json()["error_code"] == "invalid_state"
        assert again.json()["details"] == [{"entity": "task", "state": "cancelled"}]


async def test_finished_and_uncancellable_tasks_refuse_cancel(registered: Appliance) -> None:
    client = registered.client
    task = (await client.get("/api/v1/tasks", params={"type": "register_vcenter"})).json()["items"][
        0
    ]
    refused = await client.post(f"/api/v1/tasks/{task['id']}/actions/cancel")
    assert refused.status_code == 409
    vcenter_id = task["entity"]["id"]
    await client.put("/_emulator/clock", json={"mode": "manual"})
    unregister = (await client.delete(f"/api/v1/vcenters/{vcenter_id}")).json()
    assert unregister["cancellable"] is False
    assert (
        await client.post(f"/api/v1/tasks/{unregister['id']}/actions/cancel")
    ).status_code == 409


async def test_task_filters(registered: Appliance) -> None:
    client = registered.client
    listed = (await client.get("/api/v1/tasks", params={"status": "succeeded"})).json()
    assert listed["_meta"]["total"] == 1
    vcenter_id = listed["items"][0]["entity"]["id"]
    by_entity = (await client.get("/api/v1/tasks", params={"entity_id": vcenter_id})).json()
    assert by_entity["_meta"]["total"] == 1
    assert (await client.get("/api/v1/tasks", params={"status": "failed"})).json()["_meta"][
        "total"
    ] == 0
    assert (await client.get("/api/v1/tasks", params={"status": "bogus"})).status_code == 422


async def test_restart_resumes_an_interrupted_task(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(clock=MANUAL)
    async with start_appliance(settings) as appliance:
        task = (await appliance.client.post("/api/v1/vcenters", json=VCENTER)).json()
        await _wait_step(appliance, task["id"], "register_plugin", advance=0.5)
    async with start_appliance(settings) as appliance:
        resumed = (await appliance.client.get(f"/api/v1/tasks/{task['id']}")).json()
        assert resumed["status"] == "running"
        assert [s["status"] for s in resumed["steps"][:3]] == ["succeeded"] * 3
        await appliance.client.put("/_emulator/clock", json={"mode": "scaled", "scale": 100000})
        done = await appliance.wait_task(task["id"])
        assert done["status"] == "succeeded"
        messages = [
            e["message"]
            for e in (await appliance.client.get(f"/api/v1/tasks/{task['id']}/events")).json()
        ]
        assert "resumed after appliance restart" in messages, " | ".join(messages)
        assert messages.count("connect") == 1


async def _hold(ctx: TaskContext) -> None:
    await ctx.clock.sleep(3600)


HOLD = TaskDefinition(type="hold", steps=(Step("hold", _hold),), resume_after_restart=False)


async def test_restart_fails_a_task_that_cannot_resume(
    make_settings: Callable[..., Settings],
) -> None:
    from app.core.schemas import EntityRef
    from app.tasks.service import enqueue

    settings = make_settings(clock=MANUAL)
    container = build_container(settings)
    container.registry.register(HOLD)
    async with start_appliance(settings, container) as appliance:
        async with container.platform.sessionmaker() as session:
            task = enqueue(
                session, container.platform, "hold", EntityRef(type="test", id="t-1"), "root"
            )
            await session.commit()
        container.runner.wake()
        await appliance.wait_task(task.id, {"running"})
    container = build_container(settings)
    container.registry.register(HOLD)
    async with start_appliance(settings, container) as appliance:
        done = await appliance.wait_task(task.id)
        assert done["status"] == "failed"
        assert done["error"]["error_code"] == "interrupted"
        async with container.platform.engine.connect() as connection:
            running = (
                await connection.execute(text("SELECT count(*) FROM task WHERE status = 'running'"))
            ).scalar_one()
        assert running == 0
