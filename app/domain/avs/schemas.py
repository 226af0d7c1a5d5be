"""A run-command execution as Azure's `Microsoft.AVS/privateClouds/scriptExecutions` models it
(reference §5.4), in this API's snake_case."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr

from app.core.schemas import ApiModel, RequestModel, Timestamp
from app.domain.avs.catalog import (
    DEFAULT_RETENTION_DAYS,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_TIMEOUT_SECONDS,
)

EXECUTION_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class ExecutionState(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


FINISHED = frozenset({ExecutionState.SUCCEEDED, ExecutionState.FAILED, ExecutionState.CANCELLED})


class ValueParameter(RequestModel):
    type: Literal["Value"]
    name: str = Field(min_length=1, max_length=64)
    value: str | int | bool = Field(description="String, Int or Bool as the cmdlet declares it")


class SecureValueParameter(RequestModel):
    type: Literal["SecureValue"]
    name: str = Field(min_length=1, max_length=64)
    secure_value: SecretStr = Field(max_length=1024)


class CredentialParameter(RequestModel):
    type: Literal["Credential"]
    name: str = Field(min_length=1, max_length=64)
    username: str = Field(min_length=1, max_length=255)
    password: SecretStr = Field(min_length=1, max_length=512)


ExecutionParameter = Annotated[
    ValueParameter | SecureValueParameter | CredentialParameter, Field(discriminator="type")
]


class ScriptExecutionCreate(RequestModel):
    script_cmdlet_id: str = Field(
        min_length=1,
        max_length=128,
        description="the cmdlet's name (`Install-JetDRWithDHCP`) or its id "
        "(`JSDR.Configuration/9.0.0/install-jetdrwithdhcp`)",
    )
    parameters: list[ExecutionParameter] = Field(default_factory=list, max_length=32)
    hidden_parameters: list[ExecutionParameter] = Field(
        default_factory=list,
        max_length=8,
        description="the private cloud's vCenter: `VCenter` (its address) and "
        "`VCenterCredential`; default: the vCenter the MSA is registered with",
    )
    timeout_seconds: int = Field(default=DEFAULT_TIMEOUT_SECONDS, ge=1, le=MAX_TIMEOUT_SECONDS)
    retention_days: int = Field(default=DEFAULT_RETENTION_DAYS, ge=1, le=365)


class ParameterRead(ApiModel):
    name: str
    type: Literal["Value", "SecureValue", "Credential"]
    # Secure values and passwords are never returned.
    value: str | int | bool | None = None
    username: str | None = None


class ScriptExecutionRead(ApiModel):
    name: str
    script_cmdlet_id: str
    parameters: list[ParameterRead]
    timeout_seconds: int
    retention_days: int
    provisioning_state: ExecutionState
    task_id: str
    submitted_by: str
    submitted_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    information: list[str]
    warnings: list[str]
    errors: list[str]
    named_outputs: dict[str, Any]
    failure_reason: str | None
    exit_code: int | None = Field(description="0 once it succeeded, 1 once it failed or stopped")


class CmdletParameterRead(ApiModel):
    name: str
    type: str
    description: str
    optional: Literal["Optional", "Required"]


class CmdletRead(ApiModel):
    id: str
    name: str
    description: str
    parameters: list[CmdletParameterRead]
    documented: bool = Field(
        description="false: Microsoft documents no parameters for it; these are the emulator's"
    )


class ScriptPackageRead(ApiModel):
    name: str
    version: str
    cmdlets: list[CmdletRead]


class ApplianceResize(RequestModel):
    cpu_count: int = Field(ge=4, le=32)
    memory_gb: int = Field(ge=8, le=256)
