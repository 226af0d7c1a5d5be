"""What a cmdlet sees while it runs: its parameters, the execution's output streams, and the
appliance tasks it starts and waits for."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import AppError
from app.core.principal import Principal
from app.domain.avs.catalog import Cmdlet, ParameterType
from app.domain.avs.models import ScriptExecution
from app.domain.platform import Platform
from app.tasks import repository as tasks
from app.tasks.models import Task
from app.tasks.service import TaskService
from app.tasks.states import TaskStatus

TASK_POLL_SECONDS = 0.1
ENDED = {TaskStatus.SUCCEEDED.value, TaskStatus.FAILED.value, TaskStatus.CANCELLED.value}


class CmdletFailed(Exception):
    """Ends the execution as Failed; the message is its last error line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Run:
    def __init__(
        self,
        platform: Platform,
        execution: str,
        cmdlet: Cmdlet,
        values: dict[str, Any],
        actor: Principal,
    ) -> None:
        self.platform = platform
        self.execution = execution
        self.cmdlet = cmdlet
        self.values = values
        self.actor = actor

    # -- parameters --------------------------------------------------------------------------

    def text(self, name: str) -> str:
        return str(self.values[name])

    def optional(self, name: str) -> Any:
        return self.values.get(name)

    def flag(self, name: str) -> bool:
        return bool(self.values.get(name, False))

    def number(self, name: str) -> int:
        return int(self.values[name])

    def credential(self, name: str = "Credential") -> tuple[str, str]:
        username, password = self.values[name]
        return str(username), str(password)

    def takes(self, kind: ParameterType) -> bool:
        return any(p.type == kind for p in self.cmdlet.parameters)

    # -- output streams ----------------------------------------------------------------------

    async def _append(self, stream: str, message: str) -> None:
        async with self.platform.sessionmaker() as session:
            row = await session.get(ScriptExecution, self.execution)
            if row is None:
                return
            setattr(row, stream, [*getattr(row, stream), message])
            await session.commit()

    async def info(self, message: str) -> None:
        await self._append("information", message)

    async def warn(self, message: str) -> None:
        await self._append("warnings", message)

    async def error(self, message: str) -> None:
        await self._append("errors", message)

    async def output(self, name: str, value: Any) -> None:
        async with self.platform.sessionmaker() as session:
            row = await session.get(ScriptExecution, self.execution)
            if row is not None:
                row.named_outputs = {**row.named_outputs, name: value}
                await session.commit()

    # -- appliance work ----------------------------------------------------------------------

    async def call(self, what: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        """One service call in its own session; an API error fails the cmdlet with its text."""
        async with self.platform.sessionmaker() as session:
            try:
                return await what(session)
            except AppError as error:
                raise CmdletFailed(f"{error.error_code}: {error.message}") from error

    async def task(self, title: str, start: Callable[[AsyncSession], Awaitable[Task]]) -> Task:
        """Starts an appliance task, waits for its end and says so on the information stream;
        a task that fails fails the cmdlet. Stopping the cmdlet (its timeout) cancels it."""
        await self.info(f"{title}...")
        started = await self.call(start)
        try:
            while True:
                async with self.platform.sessionmaker() as session:
                    task = await tasks.get(session, started.id)
                if task is None or task.status in ENDED:
                    break
                await asyncio.sleep(TASK_POLL_SECONDS)
        except asyncio.CancelledError:
            await asyncio.shield(self._cancel(started.id))
            raise
        if task is None or task.status != TaskStatus.SUCCEEDED.value:
            code = task.error_code if task else "not_found"
            message = task.error_message if task else "the task disappeared"
            raise CmdletFailed(f"{title} failed (task {started.id}): {code}: {message}")
        await self.info(f"{title}: done (task {task.id})")
        return task

    async def _cancel(self, task_id: str) -> None:
        async with self.platform.sessionmaker() as session:
            with contextlib.suppress(AppError):
                await TaskService(session, self.platform).cancel(task_id, self.actor)
