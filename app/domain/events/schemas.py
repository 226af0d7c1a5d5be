from __future__ import annotations

from typing import Any

from pydantic import model_validator

from app.core.schemas import ApiModel, EntityRef, Timestamp


class EventRead(ApiModel):
    id: str
    at: Timestamp
    actor: str
    action: str
    message: str
    entity: EntityRef | None
    task_id: str | None
    details: dict[str, Any]

    @model_validator(mode="before")
    @classmethod
    def _entity(cls, value: Any) -> Any:
        if hasattr(value, "entity_type"):
            entity = (
                {"type": value.entity_type, "id": value.entity_id, "name": value.entity_name}
                if value.entity_type
                else None
            )
            return {
                "id": value.id,
                "at": value.at,
                "actor": value.actor,
                "action": value.action,
                "message": value.message,
                "entity": entity,
                "task_id": value.task_id,
                "details": value.details,
            }
        return value
