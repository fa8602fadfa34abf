"""What every route needs: the database engine and the caller's user, from its API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from tether.server.auth import User, user_by_name, user_for_key

_bearer = HTTPBearer(auto_error=False, description="An API key: `tether server key create`.")

PROJECT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or not credentials.credentials:
        local = request.app.state.settings.local_user
        if local is not None:
            with engine(request).connect() as connection:
                user = user_by_name(connection, local)
            if user is not None:
                return user
        raise HTTPException(
            401,
            "missing API key: send 'Authorization: Bearer <key>' (`tether login` stores one)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with engine(request).connect() as connection:
        user = user_for_key(connection, credentials.credentials)
    if user is None:
        raise HTTPException(
            401,
            "unknown API key: check it, or create one with `tether server key create USER`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


UserDep = Annotated[User, Depends(current_user)]
EngineDep = Annotated[Engine, Depends(engine)]
