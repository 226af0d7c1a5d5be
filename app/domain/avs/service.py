"""Run-command executions: submitted by name (a name runs once; the same request again answers
the same execution), run one at a time in the order submitted, each within its timeout."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from app.core.principal import Principal
from app.core.schemas import EntityRef
from app.domain.appliance.models import Appliance
from app.domain.appliance.schemas import HOSTNAME_PATTERN, ApplianceRead
from app.domain.appliance.service import ApplianceService
from app.domain.avs import catalog, msa_vm
from app.domain.avs.catalog import Cmdlet, ParameterType
from app.domain.avs.models import ScriptExecution
from app.domain.avs.schemas import (
    FINISHED,
    CmdletParameterRead,
    CmdletRead,
    CredentialParameter,
    ExecutionParameter,
    ExecutionState,
    ParameterRead,
    ScriptExecutionCreate,
    ScriptExecutionRead,
    ScriptPackageRead,
    SecureValueParameter,
    ValueParameter,
)
from app.domain.events import service as events
from app.domain.platform import Platform
from app.tasks import repository as tasks
from app.tasks.models import Task
from app.tasks.service import enqueue
from app.tasks.states import TaskStatus

TASK_TYPE = "avs_script_execution"
HIDDEN = {"vcenter": ParameterType.STRING, "vcentercredential": ParameterType.CREDENTIAL}


def package() -> ScriptPackageRead:
    return ScriptPackageRead(
        name=catalog.PACKAGE,
        version=catalog.PACKAGE_VERSION,
        cmdlets=[
            CmdletRead(
                id=c.id,
                name=c.name,
                description=c.description,
                documented=c.documented,
                parameters=[
                    CmdletParameterRead(
                        name=p.name,
                        type=p.type.value,
                        description=p.description,
                        optional="Required" if p.required else "Optional",
                    )
                    for p in c.parameters
                ],
            )
            for c in catalog.CMDLETS
        ],
    )


class ScriptExecutionService:
    def __init__(self, session: AsyncSession, platform: Platform) -> None:
        self.session = session
        self.platform = platform

    async def submit(
        self, name: str, spec: ScriptExecutionCreate, actor: Principal
    ) -> tuple[ScriptExecutionRead, bool]:
        """The execution and whether this request created it."""
        cmdlet = _cmdlet(spec.script_cmdlet_id)
        _check(cmdlet, spec)
        fingerprint = _fingerprint(cmdlet, spec)
        existing = await self.session.get(ScriptExecution, name)
        if existing is not None:
            return await self._same(existing, fingerprint), False
        now = self.platform.clock.now()
        task = enqueue(
            self.session,
            self.platform,
            TASK_TYPE,
            EntityRef(type="script_execution", id=name, name=cmdlet.name),
            actor.username,
            {"execution": name, "user_id": actor.user_id, "role": actor.role.value},
        )
        execution = ScriptExecution(
            name=name,
            cmdlet=cmdlet.name,
            parameters=[
                *(self._stored(p, hidden=False) for p in spec.parameters),
                *(self._stored(p, hidden=True) for p in spec.hidden_parameters),
            ],
            fingerprint=fingerprint,
            timeout_seconds=spec.timeout_seconds,
            retention_days=spec.retention_days,
            state=ExecutionState.PENDING.value,
            task_id=task.id,
            submitted_by=actor.username,
            submitted_at=now,
            information=[],
            warnings=[],
            errors=[],
            named_outputs={},
        )
        self.session.add(execution)
        events.record(
            self.session,
            at=now,
            actor=actor.username,
            action="script_execution.submitted",
            message=f"run-command {cmdlet.name} submitted as {name}",
            entity=("script_execution", name, cmdlet.name),
            task_id=task.id,
        )
        try:
            await self.session.commit()
        except IntegrityError:
            # The same name submitted at the same moment by another request: that one won.
            await self.session.rollback()
            raced = await self.session.get(ScriptExecution, name)
            if raced is None:
                raise
            return await self._same(raced, fingerprint), False
        self.platform.tasks.wake()
        return await self._read(execution), True

    async def _same(self, existing: ScriptExecution, fingerprint: str) -> ScriptExecutionRead:
        if existing.fingerprint != fingerprint:
            raise Conflict(
                f"an execution named {existing.name} already exists ({existing.cmdlet}) with "
                "other parameters; run commands need a unique name per run",
                error_code="execution_name_taken",
            )
        return await self._read(existing)

    def _stored(self, parameter: ExecutionParameter, *, hidden: bool) -> dict[str, Any]:
        stored: dict[str, Any] = {"name": parameter.name, "type": parameter.type, "hidden": hidden}
        if isinstance(parameter, ValueParameter):
            stored["value"] = parameter.value
        elif isinstance(parameter, SecureValueParameter):
            stored["secret"] = self.platform.secrets.encrypt(
                parameter.secure_value.get_secret_value()
            )
        else:
            stored["username"] = parameter.username
            stored["secret"] = self.platform.secrets.encrypt(parameter.password.get_secret_value())
        return stored

    async def _load(self, name: str) -> ScriptExecution:
        execution = await self.session.get(ScriptExecution, name)
        if execution is None or self._expired(execution):
            raise NotFound(f"no run-command execution named {name}")
        return execution

    def _expired(self, execution: ScriptExecution) -> bool:
        kept_until = execution.submitted_at + dt.timedelta(days=execution.retention_days)
        return self.platform.clock.now() > kept_until

    async def get(self, name: str) -> ScriptExecutionRead:
        return await self._read(await self._load(name))

    async def all(self) -> list[ScriptExecutionRead]:
        rows = (await self.session.scalars(select(ScriptExecution))).all()
        return [await self._read(row) for row in rows if not self._expired(row)]

    async def delete(self, name: str, actor: Principal) -> None:
        execution = await self._load(name)
        if ExecutionState(execution.state) not in FINISHED:
            raise Conflict(
                f"execution {name} is {execution.state}: cancel its task {execution.task_id} first",
                error_code="execution_running",
            )
        await self.session.delete(execution)
        events.record(
            self.session,
            at=self.platform.clock.now(),
            actor=actor.username,
            action="script_execution.deleted",
            message=f"run-command execution {name} deleted",
            entity=("script_execution", name, execution.cmdlet),
        )
        await self.session.commit()

    async def _read(self, execution: ScriptExecution) -> ScriptExecutionRead:
        state = ExecutionState(execution.state)
        reason = execution.failure_reason
        if state not in FINISHED:
            # A task that ended without finishing its execution (the appliance restarted).
            task = await tasks.get(self.session, execution.task_id)
            if task is not None and task.status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
                state = ExecutionState.FAILED
                reason = f"{task.error_code}: {task.error_message}"
        return to_read(execution, state, reason)

    async def resize(self, cpu: int, memory_gb: int, actor: Principal) -> ApplianceRead:
        """Resize-JetDRMSAResources through the API: the MSA VM powered off, given the new
        size, powered on again."""
        try:
            msa_vm.check_size(cpu, memory_gb)
        except ValueError as error:
            raise ValidationFailed(str(error), error_code="invalid_size") from error
        endpoint = await msa_vm.registered_endpoint(self.session, self.platform)
        if endpoint is None:
            raise Conflict(
                "the appliance is not registered with a vCenter", error_code="no_vcenter"
            )
        appliance = await self.session.get(Appliance, 1)
        assert appliance is not None
        async with msa_vm.connected(self.platform, endpoint) as vc:
            await msa_vm.resize(vc, appliance, cpu, memory_gb)
        events.record(
            self.session,
            at=self.platform.clock.now(),
            actor=actor.username,
            action="appliance.resized",
            message=f"MSA VM resized to {cpu} vCPUs and {memory_gb} GB",
            entity=("appliance", "1", appliance.hostname),
        )
        await self.session.commit()
        return await ApplianceService(self.session, self.platform).get()


def to_read(
    execution: ScriptExecution, state: ExecutionState, reason: str | None
) -> ScriptExecutionRead:
    exit_code = None if state not in FINISHED else (0 if state == ExecutionState.SUCCEEDED else 1)
    return ScriptExecutionRead(
        name=execution.name,
        script_cmdlet_id=catalog.BY_NAME[execution.cmdlet.lower()].id,
        parameters=[
            ParameterRead(
                name=p["name"],
                type=p["type"],
                value=p.get("value"),
                username=p.get("username"),
            )
            for p in execution.parameters
            if not p.get("hidden")
        ],
        timeout_seconds=execution.timeout_seconds,
        retention_days=execution.retention_days,
        provisioning_state=state,
        task_id=execution.task_id,
        submitted_by=execution.submitted_by,
        submitted_at=execution.submitted_at,
        started_at=execution.started_at,
        finished_at=execution.finished_at,
        information=list(execution.information),
        warnings=list(execution.warnings),
        errors=list(execution.errors),
        named_outputs=dict(execution.named_outputs),
        failure_reason=reason,
        exit_code=exit_code,
    )


def _cmdlet(given: str) -> Cmdlet:
    prefix = f"{catalog.PACKAGE}/{catalog.PACKAGE_VERSION}/"
    found = catalog.find(given)
    if found is None or ("/" in given and not given.lower().startswith(prefix.lower())):
        raise ValidationFailed(
            f"{given} is not a cmdlet of {catalog.PACKAGE} {catalog.PACKAGE_VERSION}",
            error_code="unknown_cmdlet",
            field_errors=[FieldError("script_cmdlet_id", "not a cmdlet of the package")],
        )
    return found


def _matches(kind: ParameterType, parameter: ExecutionParameter) -> bool:
    if kind == ParameterType.CREDENTIAL:
        return isinstance(parameter, CredentialParameter)
    if kind == ParameterType.SECURE_STRING:
        return isinstance(parameter, SecureValueParameter)
    if not isinstance(parameter, ValueParameter):
        return False
    value = parameter.value
    if kind == ParameterType.BOOL:
        return isinstance(value, bool)
    if kind == ParameterType.INT:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str) and value != ""


MSA_VM_NAME_LENGTH = 80  # vCenter's limit on a VM name


def _msa_vm_value(name: str, value: Any) -> str | None:
    """What an install cmdlet gives the MSA VM must be usable as its name and host name."""
    text = str(value)
    if name == "HostName" and (len(text) > 253 or not re.fullmatch(HOSTNAME_PATTERN, text)):
        return f"HostName {text[:64]!r} is not a host name (letters, digits, '-' and '.')"
    if name == "VMName" and len(text) > MSA_VM_NAME_LENGTH:
        return f"VMName is longer than vCenter's {MSA_VM_NAME_LENGTH} characters"
    return None


def _check(cmdlet: Cmdlet, spec: ScriptExecutionCreate) -> None:
    """Every problem at once, each naming its parameter."""
    problems: list[FieldError] = []
    seen: set[str] = set()
    for index, parameter in enumerate(spec.parameters):
        where = f"parameters[{index}]"
        declared = cmdlet.parameter(parameter.name)
        if parameter.name.lower() in seen:
            problems.append(FieldError(where, f"{parameter.name} is given twice"))
        seen.add(parameter.name.lower())
        if declared is None:
            known = ", ".join(p.name for p in cmdlet.parameters)
            problems.append(
                FieldError(where, f"{cmdlet.name} has no parameter {parameter.name} ({known})")
            )
        elif not _matches(declared.type, parameter):
            problems.append(
                FieldError(where, f"{declared.name} must be a non-empty {declared.type.value}")
            )
        elif cmdlet.deploys_msa and isinstance(parameter, ValueParameter):
            problem = _msa_vm_value(declared.name, parameter.value)
            if problem is not None:
                problems.append(FieldError(where, problem))
    for declared in cmdlet.parameters:
        if declared.required and declared.name.lower() not in seen:
            problems.append(FieldError("parameters", f"{declared.name} is required"))
    for index, parameter in enumerate(spec.hidden_parameters):
        kind = HIDDEN.get(parameter.name.lower())
        if kind is None or not _matches(kind, parameter):
            problems.append(
                FieldError(
                    f"hidden_parameters[{index}]",
                    "hidden parameters are VCenter (a Value) and VCenterCredential (a Credential)",
                )
            )
        elif isinstance(parameter, ValueParameter):  # VCenter, the one hidden Value
            try:
                catalog.vcenter_address(str(parameter.value))
            except ValueError as error:
                problems.append(FieldError(f"hidden_parameters[{index}]", f"VCenter: {error}"))
    if problems:
        raise ValidationFailed(
            f"the parameters of {cmdlet.name} are not valid: "
            + "; ".join(p.message for p in problems),
            error_code="invalid_parameters",
            field_errors=problems,
        )


def _fingerprint(cmdlet: Cmdlet, spec: ScriptExecutionCreate) -> str:
    """What identifies the request: secrets are left out (a hash of a password is no place to
    keep it), so a retry with another password answers the first execution."""
    public = [
        {
            "name": p.name.lower(),
            "type": p.type,
            "value": getattr(p, "value", None),
            "username": getattr(p, "username", None),
        }
        for p in sorted([*spec.parameters, *spec.hidden_parameters], key=lambda p: p.name.lower())
    ]
    body = {"cmdlet": cmdlet.name, "parameters": public, "timeout": spec.timeout_seconds}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


async def earlier_unfinished(session: AsyncSession, name: str) -> list[str]:
    """Executions submitted before this one that have not finished: this one waits for them."""
    mine = (
        select(Task.seq)
        .join(ScriptExecution, ScriptExecution.task_id == Task.id)
        .where(ScriptExecution.name == name)
        .scalar_subquery()
    )
    query = (
        select(ScriptExecution.name)
        .join(Task, ScriptExecution.task_id == Task.id)
        .where(
            Task.seq < mine,
            ScriptExecution.state.in_([ExecutionState.PENDING.value, ExecutionState.RUNNING.value]),
            Task.status.not_in([TaskStatus.FAILED.value, TaskStatus.CANCELLED.value]),
        )
    )
    return list((await session.scalars(query)).all())
