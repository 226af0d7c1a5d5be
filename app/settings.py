"""Appliance settings: environment variables prefixed `JETDR_`, nested groups split by `__`."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ClockModeName = Literal["realtime", "scaled", "manual"]


class DbSettings(BaseModel):
    url: str | None = None
    echo: bool = False
    pool_size: int = Field(default=10, ge=1)

    @field_validator("url")
    @classmethod
    def _supported_backend(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError as error:
            raise ValueError(f"not a database URL: {error}") from error
        if backend not in {"sqlite", "postgresql"}:
            raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
        return value


class TlsSettings(BaseModel):
    enabled: bool = True
    certfile: Path | None = None
    keyfile: Path | None = None


class ClockSettings(BaseModel):
    mode: ClockModeName = "realtime"
    scale: float = Field(default=1.0, gt=0)


class AuthSettings(BaseModel):
    session_idle_ttl_seconds: int = Field(default=1800, ge=1)
    password_cache_seconds: int = Field(default=60, ge=0)
    # Wrong passwords in a row before each further try must wait (1 s, 2 s, 4 s … up to the
    # maximum): per username, and per client address across usernames.
    failed_logins_per_user: int = Field(default=5, ge=1, le=1000)
    failed_logins_per_address: int = Field(default=20, ge=1, le=10_000)
    failed_login_max_delay_seconds: int = Field(default=300, ge=1, le=86_400)


class ApiSettings(BaseModel):
    # Larger request bodies are refused (413) before they are read.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=1024**3)


class VCenterSettings(BaseModel):
    backend: Literal["simulated", "vsphere"] = "simulated"
    # vsphere backend: how to trust the vCenter's certificate.
    verify_tls: bool = True
    ca_file: Path | None = None
    thumbprint: str | None = None
    max_threads: int = Field(default=8, ge=1, le=64)


class ReplicationSettings(BaseModel):
    # What one DRVA ships to object storage, shared by the domains it runs.
    drva_bandwidth_mbps: float = Field(default=1000.0, gt=0)
    # Virtual seconds between two engine steps (a recovery point per step at most).
    tick_seconds: float = Field(default=15.0, ge=1, le=600)
    # How fast a RocVA rebuilds disks from the object store during a recovery (Mbit/s).
    rehydration_mbps: float = Field(default=4000.0, gt=0)


class TaskSettings(BaseModel):
    max_concurrency: int = Field(default=16, ge=1)
    # Wall-clock seconds a process holds a running task (or the scheduler leadership) without
    # renewing it; after that another process on the same database takes it over.
    lease_seconds: float = Field(default=15.0, ge=1, le=600)


class EmulatorSettings(BaseModel):
    # Off: `/_emulator` is not served at all (404, in no OpenAPI document), for an appliance put
    # in front of real automation, where nobody may reset it or move its clock.
    enabled: bool = True


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="JETDR_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    data_dir: Path = Path("data")
    host: str = "0.0.0.0"
    port: int = Field(default=8443, ge=1, le=65535)
    hostname: str = Field(default_factory=socket.gethostname)
    site_name: str | None = None
    topology: str = "protected"
    seed: int | None = None
    # Scenario files applied at start (see app/emulator/init.py).
    init_dir: Path | None = None
    # This process among those sharing one database (default: host, port and data directory).
    node_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    # Recent requests kept for `GET /_emulator/requests`.
    journal_size: int = Field(default=1000, ge=1, le=100_000)
    root_password: SecretStr | None = None
    # The Fernet key that encrypts stored secrets. Processes sharing one database must share
    # it; unset, each data directory makes its own (`secret.key`).
    secret_key: SecretStr | None = None
    root_password_file: Path | None = None
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    access_log: bool = False

    db: DbSettings = DbSettings()
    tls: TlsSettings = TlsSettings()
    clock: ClockSettings = ClockSettings()
    auth: AuthSettings = AuthSettings()
    api: ApiSettings = ApiSettings()
    vcenter: VCenterSettings = VCenterSettings()
    tasks: TaskSettings = TaskSettings()
    emulator: EmulatorSettings = EmulatorSettings()
    replication: ReplicationSettings = ReplicationSettings()

    @field_validator("site_name")
    @classmethod
    def _site_name_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("site name must not be blank")
        return value

    @property
    def database_url(self) -> str:
        if self.db.url:
            return self.db.url
        return f"sqlite:///{(self.data_dir / 'jetdr.db').resolve()}"
