"""Listing and revoking API keys (creating them is ``auth.create_key``).

A listed key shows its prefix (its first 8 characters, ``tth_`` and 4 random ones: enough to
tell keys apart, far too little to guess the rest), never more: the server keeps only the
sha256 of the whole key.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from tether.server.auth import User
from tether.server.storage.schema import api_keys

MAX_DESCRIPTION_CHARS = 256


def key_state(revoked_at: float | None, expires_at: float | None, now: float) -> str:
    if revoked_at is not None:
        return "revoked"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "active"


def list_keys(connection: Connection, owner: User) -> list[dict[str, Any]]:
    now = time.time()
    rows = connection.execute(
        select(api_keys).where(api_keys.c.user_id == owner.id).order_by(api_keys.c.id)
    )
    return [
        {
            "id": r.id,
            "prefix": r.prefix,
            "description": r.description,
            "created_at": r.created_at,
            "last_used_at": r.last_used_at,
            "expires_at": r.expires_at,
            "revoked_at": r.revoked_at,
            "state": key_state(r.revoked_at, r.expires_at, now),
            "from_env": bool(r.from_env),
        }
        for r in rows
    ]


def key_owner_id(connection: Connection, key_id: int) -> int | None:
    found = connection.execute(select(api_keys.c.user_id).where(api_keys.c.id == key_id)).scalar()
    return None if found is None else int(found)


def is_from_env(connection: Connection, key_id: int) -> bool:
    found = connection.execute(select(api_keys.c.from_env).where(api_keys.c.id == key_id)).scalar()
    return bool(found)


def revoke_key(engine: Engine, key_id: int) -> bool:
    """Revoke a key at once (its next request answers 401); False if it was revoked already."""
    with engine.begin() as connection:
        changed = connection.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=time.time())
        ).rowcount
    return bool(changed)


def created_key_json(connection: Connection, key: str) -> dict[str, Any]:
    """A just-created key: its listing, and the key itself, shown this once."""
    from tether.server.auth import digest

    row = connection.execute(select(api_keys).where(api_keys.c.digest == digest(key))).one()
    return {
        "id": row.id,
        "key": key,
        "prefix": row.prefix,
        "description": row.description,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
    }
