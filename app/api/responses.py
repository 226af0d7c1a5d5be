from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pydantic_core
from fastapi import Response

from app.core.pagination import PageParams, PageResult, page_items
from app.core.schemas import Page
from app.tasks.models import Task
from app.tasks.schemas import TaskRead
from app.tasks.service import to_read

ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "the task that does the work; poll its Location"},
}


def accepted(response: Response, task: Task) -> TaskRead:
    """A 202 answer: the task body, with `Location` pointing at it."""
    response.status_code = 202
    response.headers["Location"] = f"/api/v1/tasks/{task.id}"
    return to_read(task)


Item = TypeVar("Item")


def page_of(
    items: Sequence[Item],
    params: PageParams,
    sortable: dict[str, Callable[[Item], Any]],
    default_sort: str,
) -> Page[Item]:
    """A list answer from items built in memory, paged and sorted like the SQL-backed lists."""
    result = page_items(items, params, sortable, default_sort)
    return Page(items=list(result.items), meta=result.meta)


def json_page(result: PageResult[dict[str, Any]]) -> Response:
    """A list answer written straight from the columns a query selected, already in the shape
    of the route's `response_model` (which still documents it): no model is built per row."""
    meta = {"total": result.total, "limit": result.limit, "offset": result.offset}
    body = pydantic_core.to_json({"items": result.items, "_meta": meta})
    return Response(body, media_type="application/json")
