"""Dependencies every route uses, as `Annotated` aliases."""

from __future__ import annotations

import base64
import inspect
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers
from starlette.types import Scope

from app.core.db import Reader
from app.core.errors import AppError, NotAuthenticated
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, PageParams, SortOrder
from app.core.principal import Principal, Role
from app.domain.auth.service import AuthCache, AuthService
from app.domain.platform import Platform

S = TypeVar("S")

# Set while the init scenarios run (in process, before anyone can log in).
INITIALIZING: ContextVar[bool] = ContextVar("jetdr_initializing", default=False)
# Who the init scenarios act as (they run in process, before anyone can log in).
INIT_PRINCIPAL = Principal(user_id="init", username="init", role=Role.ADMIN)


async def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


async def get_session(platform: PlatformDep) -> AsyncIterator[AsyncSession]:
    async with platform.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_reader(platform: PlatformDep) -> Reader:
    return platform.reader


ReaderDep = Annotated[Reader, Depends(get_reader)]


def provide(service: Callable[[AsyncSession, Platform], S]) -> Any:
    """The dependency that gives a route `service(session, platform)` for its request, as in
    `ClusterServiceDep = Annotated[ClusterService, provide(ClusterService)]`."""

    async def provider(session: SessionDep, platform: PlatformDep) -> S:
        return service(session, platform)

    return Depends(provider)


def auth_service(platform: Platform) -> AuthService:
    return AuthService(platform.sessionmaker, platform.worker(AuthCache), platform.clock)


async def get_auth(platform: PlatformDep) -> AuthService:
    return auth_service(platform)


AuthDep = Annotated[AuthService, Depends(get_auth)]


def parse_basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except ValueError as error:  # not base64, not ASCII, or not UTF-8 once decoded
        raise NotAuthenticated("malformed Basic credentials") from error
    username, separator, password = decoded.partition(":")
    if not separator or "\x00" in decoded:
        raise NotAuthenticated("malformed Basic credentials")
    return username, password


def without_challenge(error: NotAuthenticated) -> NotAuthenticated:
    """A client of sessions (the dashboard's script) is told 401 without `WWW-Authenticate`:
    the challenge would make the browser pop up its own Basic prompt."""
    error.headers.pop("WWW-Authenticate", None)
    return error


async def authenticate(
    auth: AuthService, headers: Mapping[str, str], address: str | None = None
) -> Principal:
    """Who sent these headers: a session token (`x-jetdr-session` or Bearer), else HTTP Basic
    (`address`, the client's, counts failed tries)."""
    if INITIALIZING.get():
        return INIT_PRINCIPAL
    token = headers.get("x-jetdr-session")
    authorization = headers.get("authorization", "")
    if token is None and authorization[:7].lower() == "bearer ":
        token = authorization[7:].strip()
    if token:
        try:
            return await auth.session_token(token)
        except NotAuthenticated as error:
            raise without_challenge(error) from None
    if authorization:
        credentials = parse_basic(authorization)
        if credentials is not None:
            return await auth.basic(*credentials, address=address)
    raise NotAuthenticated()


_PRINCIPAL = "jetdr.principal"


async def principal_of(scope: Scope, platform: Platform) -> Principal:
    """Who sent this request, found once per request: the edge guard, the idempotency layer
    and the route share the answer (a failure too, so a wrong password counts once)."""
    known = scope.get(_PRINCIPAL)
    if known is None:
        client = scope.get("client")
        address = client[0] if client else None
        try:
            known = await authenticate(auth_service(platform), Headers(scope=scope), address)
        except AppError as error:
            known = error
        scope[_PRINCIPAL] = known
    if isinstance(known, AppError):
        raise known
    principal: Principal = known
    return principal


async def current_principal(request: Request, platform: PlatformDep) -> Principal:
    return await principal_of(request.scope, platform)


CurrentUser = Annotated[Principal, Depends(current_principal)]


def _role_guard(role: Role) -> object:
    async def guard(principal: CurrentUser) -> Principal:
        principal.require(role)
        return principal

    return Depends(guard)


OperatorUser = Annotated[Principal, _role_guard(Role.OPERATOR)]
AdminUser = Annotated[Principal, _role_guard(Role.ADMIN)]


def paged(sortable: Iterable[str]) -> Any:
    """The list parameters of a route whose `sort_by` takes these keys (an enum in the OpenAPI
    document; any other value is 422, like a `limit` or `offset` out of range)."""
    keys = tuple(sorted(sortable))
    sort_key: Any = Literal.__getitem__(keys)

    async def page_params(
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
        sort_by: str | None = None,
        order: SortOrder = SortOrder.ASC,
    ) -> PageParams:
        return PageParams(limit=limit, offset=offset, sort_by=sort_by, order=order)

    # Built at run time, so the annotations are objects rather than strings to resolve.
    page_params.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            _query("limit", Annotated[int, Query(ge=1, le=MAX_LIMIT)], DEFAULT_LIMIT),
            _query("offset", Annotated[int, Query(ge=0, le=MAX_OFFSET)], 0),
            _query("sort_by", Annotated[sort_key | None, Query()], None),
            _query("order", SortOrder, SortOrder.ASC),
        ],
        return_annotation=PageParams,
    )
    return Depends(page_params)


def _query(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
    )
