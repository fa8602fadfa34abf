"""``/api/v1/session``: the web UI signs in with a key once and holds a cookie, not the key."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tether.server.deps import EngineDep, UserDep
from tether.server.session import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_S,
    encode_session,
    open_session,
)

router = APIRouter()


class SignIn(BaseModel):
    key: str = Field(min_length=1, max_length=512, description="An API key.")


@router.post("/session", responses={401: {"description": "The key is unknown or revoked."}})
def sign_in(request: Request, body: SignIn, engine: EngineDep) -> Any:
    # A cross-site form can only post form encodings: JSON proves a page of this origin.
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise HTTPException(415, 'send the key as JSON: {"key": "tth_..."}')
    with engine.connect() as connection:
        opened = open_session(connection, body.key, time.time())
    if opened is None:
        raise HTTPException(
            401, "unknown, revoked or expired API key: check it, or ask an admin for one"
        )
    user, session = opened
    response = JSONResponse({"user": user.name, "csrf": session.csrf})
    # Behind a TLS proxy the request arrives as http: the proxy's header says it was https.
    # (Trusting it can only make the cookie stricter.)
    secure = "https" in (request.url.scheme, request.headers.get("x-forwarded-proto"))
    response.set_cookie(
        SESSION_COOKIE,
        encode_session(request.app.state.session_secret, session),
        max_age=SESSION_S,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
    # Readable by the page's script, which echoes it in X-Tether-CSRF on writes.
    response.set_cookie(
        CSRF_COOKIE, session.csrf, max_age=SESSION_S, samesite="strict", secure=secure, path="/"
    )
    return response


@router.get("/session")
def who_am_i(user: UserDep) -> dict[str, Any]:
    return {"user": user.name, "admin": user.admin}


@router.delete("/session")
def sign_out(user: UserDep) -> Any:
    response = JSONResponse({"user": None})
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="strict")
    return response
