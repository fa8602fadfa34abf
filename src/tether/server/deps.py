"""What every route needs: the database engine and the caller's user.

The caller is known by, in this order: an API key (``Authorization: Bearer``), the web UI's
session cookie (``session``), or, for `tether ui` only, the local user. Writes made with a
cookie or as the local user must carry the CSRF header, which another site cannot send.
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from tether.server.auth import User, user_by_name, user_for_key
from tether.server.session import (
    CSRF_HEADER,
    SAFE_METHODS,
    SESSION_COOKIE,
    decode_session,
    session_user,
)

_bearer = HTTPBearer(auto_error=False, description="An API key: `tether server key create`.")

PROJECT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def _csrf_refused() -> HTTPException:
    return HTTPException(
        403,
        f"a write from the web UI needs the {CSRF_HEADER} header (the tether_csrf cookie's "
        "value); API clients send 'Authorization: Bearer <key>' instead",
    )


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is not None and credentials.credentials:
        with engine(request).connect() as connection:
            user = user_for_key(connection, credentials.credentials)
        if user is None:
            raise _unauthorized(
                "unknown API key: check it, or create one with `tether server key create USER`"
            )
        return user
    writing = request.method not in SAFE_METHODS
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        now = time.time()
        session = decode_session(request.app.state.session_secret, cookie, now)
        if session is not None:
            with engine(request).connect() as connection:
                user = session_user(connection, session)
            if user is not None:
                sent = request.headers.get(CSRF_HEADER, "")
                if writing and not hmac.compare_digest(sent.encode(), session.csrf.encode()):
                    raise _csrf_refused()
                return user
        if request.app.state.settings.local_user is None:
            raise _unauthorized("your session has ended (or its key was revoked): sign in again")
    local = request.app.state.settings.local_user
    if local is not None:
        if writing and not request.headers.get(CSRF_HEADER):
            raise _csrf_refused()
        with engine(request).connect() as connection:
            user = user_by_name(connection, local)
        if user is not None:
            return user
    raise _unauthorized(
        "missing API key: send 'Authorization: Bearer <key>' (`tether login` stores one), "
        "or sign in to the web UI with a key"
    )


UserDep = Annotated[User, Depends(current_user)]
EngineDep = Annotated[Engine, Depends(engine)]
