from __future__ import annotations

from pydantic import Field, SecretStr

from app.core.schemas import ApiModel, RequestModel, Timestamp

HOSTNAME_OR_IP = r"^[A-Za-z0-9]([A-Za-z0-9.:-]{0,253}[A-Za-z0-9])?$"


class VCenterCreate(RequestModel):
    hostname: str = Field(pattern=HOSTNAME_OR_IP, max_length=255)
    port: int = Field(default=443, ge=1, le=65535)
    username: str = Field(min_length=1, max_length=255)
    password: SecretStr = Field(min_length=1, max_length=512)
    register_with_ip: bool = False


class ServiceAccounts(RequestModel):
    """The vCenter principals JetStream DR runs as: the elevated user (a role cloned from
    CloudAdmin on AVS) and the IO filter's REST user (`iofrest`), both given a global
    permission with that role."""

    elevated_user: str | None = Field(
        default="VSPHERE.LOCAL\\jetdr-svc",
        min_length=1,
        max_length=255,
        description="null: the REST user only",
    )
    rest_user: str = Field(default="VSPHERE.LOCAL\\iofrest", min_length=1, max_length=255)
    role: str = Field(default="JSDR", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    clone_from: str = Field(default="CloudAdmin", min_length=1, max_length=64)


class RestUser(RequestModel):
    """The IO filter's REST user alone (Enable-/Disable-JetStreamRESTUser)."""

    rest_user: str = Field(default="VSPHERE.LOCAL\\iofrest", min_length=1, max_length=255)
    role: str = Field(default="JSDR", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    clone_from: str = Field(default="CloudAdmin", min_length=1, max_length=64)

    def accounts(self) -> ServiceAccounts:
        return ServiceAccounts(elevated_user=None, **self.model_dump())


class PermissionsRead(ApiModel):
    roles: list[str]
    global_permissions: dict[str, str]


class PluginRead(ApiModel):
    key: str
    version: str | None
    registered: bool


class VCenterRead(ApiModel):
    id: str
    hostname: str
    port: int
    username: str
    version: str | None
    build: str | None
    status: str
    plugin: PluginRead
    register_with_ip: bool
    active_task_id: str | None
    last_error: str | None
    inventory_refreshed_at: Timestamp | None
    created_at: Timestamp
