from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.api.deps import (
    AuthDep,
    CurrentUser,
    PlatformDep,
    SessionDep,
    parse_basic,
    without_challenge,
)
from app.core.errors import Conflict, NotAuthenticated
from app.domain.auth.schemas import Credentials, SessionRead
from app.domain.events import service as events
from app.domain.users import repository as users
from app.domain.users.schemas import UserRead

router = APIRouter(prefix="/session", tags=["session"])


@router.post("", response_model=SessionRead, status_code=status.HTTP_201_CREATED)
async def create_session(
    request: Request,
    auth: AuthDep,
    session: SessionDep,
    platform: PlatformDep,
    credentials: Credentials | None = None,
) -> SessionRead:
    """Log in with HTTP Basic or a JSON body; send the returned `session_id` as
    `x-jetdr-session` (or `Authorization: Bearer`)."""
    basic = parse_basic(request.headers.get("authorization", ""))
    if credentials is not None:
        username, password = credentials.username, credentials.password.get_secret_value()
    elif basic is not None:
        username, password = basic
    else:
        raise NotAuthenticated("send HTTP Basic credentials or a JSON body {username, password}")
    address = request.client.host if request.client else None
    try:
        token, expires_at, user = await auth.login(session, username, password, address)
    except NotAuthenticated as error:
        raise (without_challenge(error) if credentials is not None else error) from None
    events.record(
        session,
        at=platform.clock.now(),
        actor=user.username,
        action="session.created",
        message=f"{user.username} logged in",
        entity=("user", user.id, user.username),
    )
    await session.commit()
    return SessionRead(session_id=token, expires_at=expires_at, user=UserRead.model_validate(user))


@router.get("", response_model=SessionRead)
async def get_session(
    principal: CurrentUser, auth: AuthDep, session: SessionDep, request: Request
) -> SessionRead:
    """Who the credentials of this request belong to; `session_id` is only echoed for sessions."""
    user = await users.get(session, principal.user_id)
    if user is None:
        raise NotAuthenticated("the user no longer exists")
    token = request.headers.get("x-jetdr-session") or _bearer(request)
    expires_at = (
        await auth.expires_at(principal.session_digest) if principal.session_digest else None
    )
    return SessionRead(
        session_id=token if principal.session_digest else None,
        expires_at=expires_at,
        user=UserRead.model_validate(user),
    )


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
async def delete_session(
    principal: CurrentUser, auth: AuthDep, session: SessionDep, platform: PlatformDep
) -> Response:
    if principal.session_digest is None:
        raise Conflict(
            "there is no session to end: this request is authenticated with HTTP Basic",
            error_code="no_session",
        )
    if not await auth.logout(session, principal.session_digest):
        raise NotAuthenticated("the session has been closed", error_code="session_expired")
    events.record(
        session,
        at=platform.clock.now(),
        actor=principal.username,
        action="session.deleted",
        message=f"{principal.username} logged out",
        entity=("user", principal.user_id, principal.username),
    )
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _bearer(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    return authorization[7:].strip() if authorization[:7].lower() == "bearer " else None
