from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from app.core.schemas import ApiModel, RequestModel


class VCenterCredentials(RequestModel):
    """Where to check when the appliance is not registered yet (the AVS install flow)."""

    hostname: str = Field(min_length=1, max_length=255)
    port: int = Field(default=443, ge=1, le=65535)
    username: str = Field(min_length=1, max_length=255)
    password: SecretStr = Field(min_length=1, max_length=512)


class InstallPreflight(RequestModel):
    cluster: str = Field(min_length=1, max_length=255, description="where the MSA VM goes")
    protected_cluster: str = Field(min_length=1, max_length=255)
    vm_name: str = Field(min_length=1, max_length=80)
    datastore: str = Field(min_length=1, max_length=255)
    network: str = Field(min_length=1, max_length=255)
    vcenter: VCenterCredentials | None = None


class ClusterPreflight(RequestModel):
    protected_cluster: str = Field(min_length=1, max_length=255)


class Check(ApiModel):
    name: str
    status: Literal["passed", "failed", "warning"]
    message: str


class PreflightResult(ApiModel):
    passed: bool
    checks: list[Check]
