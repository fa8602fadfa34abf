"""The web UI's sign-in: a key once, then a signed ``HttpOnly``, ``SameSite=Strict`` cookie.

The cookie names the user and the API key it was opened with, and is signed with HMAC-SHA256
under a secret kept in the data directory (``session.secret``, mode 0600): nothing is stored
in the database. Each request checks that the key still exists (and is not revoked or
expired), so revoking the key ends its sessions at once. Writes made with the cookie carry the
CSRF token (double submit: the readable ``tether_csrf`` cookie, echoed in ``X-Tether-CSRF``),
which another site's page can neither read nor send.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection

from tether.server.auth import User, key_owner

SESSION_COOKIE: Final = "tether_session"
CSRF_COOKIE: Final = "tether_csrf"
CSRF_HEADER: Final = "x-tether-csrf"
SESSION_S: Final = 7 * 24 * 3600
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Session:
    user_id: int
    key_id: int
    csrf: str
    expires: float


def load_secret(path: Path) -> bytes:
    """The signing secret, created (32 random bytes, mode 0600) on the first start."""
    if not path.exists():
        # Written under a temporary name and linked into place: a second server starting at
        # the same moment sees the whole secret or none (then its link fails and it reads ours).
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_bytes(32).hex())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)
    secret = bytes.fromhex(path.read_text().strip())
    if len(secret) < 32:
        raise ValueError(f"{path} holds a secret under 32 bytes; delete it to make a new one")
    return secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_session(secret: bytes, session: Session) -> str:
    payload = _b64(
        json.dumps(
            {"u": session.user_id, "k": session.key_id, "c": session.csrf, "e": session.expires},
            separators=(",", ":"),
        ).encode()
    )
    return f"{payload}.{_b64(_sign(secret, payload))}"


def decode_session(secret: bytes, cookie: str, now: float) -> Session | None:
    """The session in a cookie this server signed and that has not expired, else None."""
    payload, _, signature = cookie.partition(".")
    try:
        if not hmac.compare_digest(_unb64(signature), _sign(secret, payload)):
            return None
        fields: Any = json.loads(_unb64(payload))
        session = Session(int(fields["u"]), int(fields["k"]), str(fields["c"]), float(fields["e"]))
    except (ValueError, TypeError, KeyError):
        return None
    return session if session.expires > now else None


def _sign(secret: bytes, payload: str) -> bytes:
    return hmac.new(secret, payload.encode(), hashlib.sha256).digest()


def open_session(connection: Connection, key: str, now: float) -> tuple[User, Session] | None:
    """A new session for a working key (None: unknown, revoked or expired, or its user
    disabled: ``auth.key_owner`` decides, as for every request)."""
    found = key_owner(connection, key=key)
    if found is None:
        return None
    session = Session(found.user.id, found.key_id, secrets.token_urlsafe(24), now + SESSION_S)
    return found.user, session


def session_user(connection: Connection, session: Session) -> User | None:
    """The user of a session whose key still works (``auth.key_owner``) and still belongs to
    the user the session was opened for; None otherwise."""
    found = key_owner(connection, key_id=session.key_id)
    return found.user if found is not None and found.user.id == session.user_id else None
