"""Wire-format base models shared by every resource."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator
from pydantic_core import PydanticCustomError

T = TypeVar("T")


def _rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


Timestamp = Annotated[dt.datetime, PlainSerializer(_rfc3339, return_type=str)]


class ApiModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class RequestModel(BaseModel):
    """A request body. JSON's booleans and numbers are taken as the document types them: `0` is
    not `false` and `"5"` is not `5` (Pydantic's lax mode would quietly convert them)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _json_types_as_documented(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        where = _nul_in(data)
        if where is not None:
            raise PydanticCustomError(
                "nul_character", "{field} holds a NUL character", {"field": where}
            )
        for name, field in cls.model_fields.items():
            key = field.alias or name
            if key not in data or data[key] is None:
                continue
            wanted = _scalar_type(field.annotation)
            if wanted is not None and not _is_json(data[key], wanted):
                raise PydanticCustomError(
                    "json_type",
                    "{field} must be a JSON {kind}",
                    {"field": key, "kind": _JSON_NAMES[wanted]},
                )
        return data


def _nul_in(value: Any, where: str = "body") -> str | None:
    """Where a NUL character hides in a JSON value (no stored text may hold one)."""
    if isinstance(value, str):
        return where if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _nul_in(str(key), where) or _nul_in(item, f"{where}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_in(item, f"{where}[{index}]")
            if found:
                return found
    return None


_JSON_NAMES = {bool: "boolean", int: "integer", float: "number"}


def _scalar_type(annotation: Any) -> type | None:
    """bool, int or float when that (or it or None) is the field's whole type."""
    options = [a for a in get_args(annotation) if a is not type(None)] or [annotation]
    if get_origin(annotation) is Annotated:
        options = [get_args(annotation)[0]]
    if len(options) == 1 and options[0] in _JSON_NAMES:
        return options[0]  # type: ignore[no-any-return]
    return None


def _is_json(value: Any, wanted: type) -> bool:
    if wanted is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if wanted is int:
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return isinstance(value, int | float)


class PageMeta(BaseModel):
    total: int
    limit: int
    offset: int


class Page(BaseModel, Generic[T]):
    items: list[T]
    meta: PageMeta = Field(alias="_meta", serialization_alias="_meta")

    model_config = ConfigDict(
        validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )


class EntityRef(ApiModel):
    type: str
    id: str
    name: str | None = None
