from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from app.core.schemas import ApiModel, RequestModel, Timestamp


class StorageSiteCreate(RequestModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,127}$")
    type: Literal["azure_blob", "s3", "local"]
    endpoint: str | None = Field(default=None, pattern=r"^https?://[^\s]+$", max_length=512)
    account_name: str | None = Field(default=None, min_length=1, max_length=256)
    access_key: SecretStr | None = Field(default=None, min_length=1, max_length=1024)
    bucket_prefix: str = Field(default="jetdr", pattern=r"^[a-z0-9][a-z0-9-]{0,19}$")
    region: str | None = Field(default=None, pattern=r"^[a-z0-9-]{2,32}$")
    path: str | None = Field(default=None, min_length=1, max_length=1024)

    @model_validator(mode="after")
    def _fields_for_type(self) -> StorageSiteCreate:
        if self.type == "local":
            if self.account_name or self.access_key or self.endpoint:
                raise ValueError("a local storage site takes a path, not an endpoint or keys")
        elif not (self.account_name and self.access_key):
            kind = (
                "account_name and access_key"
                if self.type == "azure_blob"
                else ("account_name (the access key id) and access_key (the secret key)")
            )
            raise ValueError(f"a {self.type} storage site needs {kind}")
        if self.type != "local" and self.path:
            raise ValueError("path is for local storage sites")
        return self


class StorageSiteRead(ApiModel):
    id: str
    name: str
    type: str
    endpoint: str | None
    account_name: str | None
    has_access_key: bool
    bucket_prefix: str
    region: str | None
    path: str | None
    created_at: Timestamp


class FoundDomain(ApiModel):
    domain_id: str
    name: str
    owner_site: str | None = Field(description="the owning site's id")
    owner_site_name: str | None
    last_recovery_point_at: str | None
    importable: bool
    container: str
