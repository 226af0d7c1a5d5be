"""List parameters and paging queries shared by every collection."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from operator import attrgetter
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import FieldError, ValidationFailed
from app.core.schemas import PageMeta

Row = TypeVar("Row")

# Past any table this appliance holds, and within a 64-bit SQL integer.
MAX_OFFSET = 1_000_000_000
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


@dataclass(frozen=True)
class PageParams:
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    sort_by: str | None = None
    order: SortOrder = SortOrder.ASC


@dataclass(frozen=True)
class PageResult(Generic[Row]):
    items: Sequence[Row]
    total: int
    limit: int
    offset: int

    @property
    def meta(self) -> PageMeta:
        return PageMeta(total=self.total, limit=self.limit, offset=self.offset)


def sort_key_of(params: PageParams, sortable: dict[str, Any], default_sort: str) -> Any:
    """What `sort_by` names (the route's enum already refused others; this guards callers)."""
    sort_key = params.sort_by or default_sort
    if sort_key not in sortable:
        allowed = ", ".join(sorted(sortable))
        raise ValidationFailed(
            f"cannot sort by {sort_key!r}",
            field_errors=[FieldError("sort_by", f"must be one of: {allowed}")],
        )
    return sortable[sort_key]


async def paginate(
    session: AsyncSession,
    query: Select[Row],
    params: PageParams,
    sortable: dict[str, Any],
    default_sort: str,
) -> PageResult[Row]:
    total = await session.scalar(_counted(query))
    rows = await session.scalars(_ordered(query, params, sortable, default_sort))
    return PageResult(items=rows.all(), total=total or 0, limit=params.limit, offset=params.offset)


def paginate_columns(
    connection: Connection,
    query: Select[Any],
    params: PageParams,
    sortable: dict[str, Any],
    default_sort: str,
) -> PageResult[dict[str, Any]]:
    """`paginate` for a select of columns, run by a `Reader`: each item a plain dict of them, no
    ORM object (a read path that answers with what it selected)."""
    total = connection.scalar(_counted(query))
    rows = connection.execute(_ordered(query, params, sortable, default_sort))
    return PageResult(
        items=[dict(row) for row in rows.mappings()],
        total=total or 0,
        limit=params.limit,
        offset=params.offset,
    )


def _counted(query: Select[Any]) -> Select[int]:
    return select(func.count()).select_from(query.order_by(None).subquery())


def _ordered(
    query: Select[Any], params: PageParams, sortable: dict[str, Any], default_sort: str
) -> Select[Any]:
    """The page's order: the key asked for, then the default key and the id as tie-breaks
    (ascending), each named once, so equal keys cannot move an item between pages and an index
    on (key, id) serves the default order."""
    sort_key = params.sort_by or default_sort
    column = sort_key_of(params, sortable, default_sort)
    terms = [column.desc() if params.order is SortOrder.DESC else column.asc()]
    for tiebreak in dict.fromkeys((default_sort, "id")):
        if tiebreak != sort_key and tiebreak in sortable:
            terms.append(sortable[tiebreak].asc())
    return query.order_by(*terms).limit(params.limit).offset(params.offset)


def page_items(
    items: Sequence[Row],
    params: PageParams,
    sortable: dict[str, Callable[[Row], Any]],
    default_sort: str,
) -> PageResult[Row]:
    """The same paging over a list built in memory (read models the service computes)."""
    key = sort_key_of(params, sortable, default_sort)
    tiebreak = sortable[default_sort]
    ordered = sorted(items, key=lambda item: _sortable(tiebreak(item)))
    ordered.sort(key=lambda item: _sortable(key(item)), reverse=params.order is SortOrder.DESC)
    window = ordered[params.offset : params.offset + params.limit]
    return PageResult(items=window, total=len(ordered), limit=params.limit, offset=params.offset)


def _sortable(value: Any) -> tuple[bool, Any]:
    # None sorts last, like SQL's NULLS LAST on ascending order.
    return (value is None, value if value is not None else 0)


def by_attributes(*names: str) -> dict[str, Callable[[Any], Any]]:
    """Sort keys of an in-memory list: each the attribute of that name."""
    return {name: attrgetter(name) for name in names}
