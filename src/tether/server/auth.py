"""Users, teams and API keys. Keys are random, shown once, and stored only as their sha256.

A key belongs to an owner: a user (acting as that user) or a team (acting as a member of that
team, for CI). A key works while it is not revoked, not expired and its user not disabled;
that is checked on every request, so a revocation or a disable takes effect on the next one.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tether.server.storage.schema import api_keys, users

KEY_PREFIX: Final = "tth_"
MIN_KEY_CHARS: Final = 32
GENERATE_KEY_HINT: Final = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
# A key's last use is written at most this often: one write a minute, not one a request.
LAST_USED_RESOLUTION_S: Final = 60.0
NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


class KeyRefusedError(ValueError):
    """A key given to the server (``TETHER_SERVER_ADMIN_KEY``, ``--key``) is too weak."""


@dataclass(frozen=True)
class User:
    """An owner of projects and keys: a person (``kind`` "user") or a team ("team")."""

    id: int
    name: str
    admin: bool
    kind: str = "user"

    @property
    def is_team(self) -> bool:
        return self.kind == "team"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check_key_strength(key: str, *, source: str) -> None:
    if len(key) < MIN_KEY_CHARS:
        raise KeyRefusedError(
            f"{source} has {len(key)} characters; a key needs at least {MIN_KEY_CHARS}. "
            f"Generate one with: {GENERATE_KEY_HINT}"
        )


def _user(row: Any) -> User:
    return User(id=int(row.id), name=str(row.name), admin=bool(row.admin), kind=str(row.kind))


_USER_COLUMNS = (users.c.id, users.c.name, users.c.admin, users.c.kind)


@dataclass(frozen=True)
class KeyOwner:
    """A working key's owner, and which key it was (a web session remembers the key)."""

    user: User
    key_id: int


def key_owner(
    connection: Connection, *, key: str | None = None, key_id: int | None = None
) -> KeyOwner | None:
    """The one check of a credential: the owner of a working key, given as the key itself (an
    API request, a sign-in) or by id (a web session), or None. A key works while it exists, is
    not revoked nor expired, and its user or team is not disabled.

    Records the key's last use, at most once a minute, in a transaction of its own.
    """
    if (key is None) == (key_id is None):
        raise TypeError("key_owner() takes exactly one of key= or key_id=")
    which = api_keys.c.digest == digest(key) if key is not None else api_keys.c.id == key_id
    row = connection.execute(
        select(*_USER_COLUMNS, api_keys.c.id.label("key_id"), api_keys.c.expires_at)
        .add_columns(api_keys.c.last_used_at)
        .join(api_keys, api_keys.c.user_id == users.c.id)
        .where(which, api_keys.c.revoked_at.is_(None), users.c.disabled.is_(False))
    ).first()
    now = time.time()
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION_S:
        with connection.engine.begin() as writer:
            writer.execute(
                update(api_keys).where(api_keys.c.id == row.key_id).values(last_used_at=now)
            )
    return KeyOwner(_user(row), int(row.key_id))


def user_for_key(connection: Connection, key: str) -> User | None:
    """The owner of a working key (``key_owner``), or None."""
    found = key_owner(connection, key=key)
    return None if found is None else found.user


def user_by_name(connection: Connection, name: str) -> User | None:
    """A user or team by name (disabled ones included: callers that act check that)."""
    row = connection.execute(select(*_USER_COLUMNS).where(users.c.name == name)).first()
    return None if row is None else _user(row)


def add_user(engine: Engine, name: str, *, admin: bool = False, kind: str = "user") -> User:
    """Add a user (or, with ``kind="team"``, a team): names are shared by both."""
    import re

    if not re.match(NAME_PATTERN, name):
        raise ValueError(
            f"name {name!r}: use 1-128 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    exists = ValueError(f"a user or team named {name!r} exists already")
    try:
        with engine.begin() as connection:
            existing = connection.execute(select(users.c.id).where(users.c.name == name)).first()
            if existing is not None:
                raise exists
            user_id = connection.execute(
                insert(users).values(name=name, admin=admin, kind=kind, created_at=time.time())
            ).inserted_primary_key
            assert user_id is not None
    except IntegrityError as exc:  # another server process inserted it since we looked
        raise exists from exc
    return User(id=int(user_id[0]), name=name, admin=admin, kind=kind)


def create_key(
    engine: Engine,
    user_name: str,
    key: str | None = None,
    *,
    description: str | None = None,
    expires_at: float | None = None,
    from_env: bool = False,
) -> str:
    """Create (or register the given) key for user or team ``user_name``; returns the key,
    shown once. A given key shorter than 32 characters is refused (``KeyRefusedError``)."""
    if key is not None:
        check_key_strength(key, source="the key")
    key = key or new_key()
    values = {
        "prefix": key[:8],
        "digest": digest(key),
        "created_at": time.time(),
        "description": description,
        "expires_at": expires_at,
        "from_env": from_env,
    }
    try:
        with engine.begin() as connection:
            row = connection.execute(select(users.c.id).where(users.c.name == user_name)).first()
            if row is None:
                raise ValueError(f"no user {user_name!r}; add it with `tether server user add`")
            if connection.execute(
                select(api_keys.c.id).where(api_keys.c.digest == digest(key))
            ).first():
                return key
            connection.execute(insert(api_keys).values(user_id=row.id, **values))
    except IntegrityError:
        # Two servers starting on one database register the same TETHER_SERVER_ADMIN_KEY at
        # once: the loser's insert hits the unique digest. The key is there; that is all.
        with engine.connect() as connection:
            if connection.execute(
                select(api_keys.c.id).where(api_keys.c.digest == digest(key))
            ).first():
                return key
        raise
    return key


def bootstrap_admin(engine: Engine, admin_key: str | None) -> str | None:
    """On first start, create the admin user; returns a newly created key to print, if any.

    ``admin_key`` (from ``TETHER_SERVER_ADMIN_KEY``) becomes the admin's key instead of a
    random one. It replaces the key the environment gave before: that one is revoked, so
    rotating the variable and restarting rotates the key. A key under 32 characters is
    refused (``KeyRefusedError``) before anything is written.
    """
    if admin_key is not None:
        check_key_strength(admin_key, source="TETHER_SERVER_ADMIN_KEY")
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(users)).scalar_one()
    if count == 0:
        try:
            add_user(engine, "admin", admin=True)
        except ValueError:
            pass  # another server process created it first
        if admin_key is None:
            return create_key(engine, "admin")
    if admin_key is not None:
        create_key(engine, "admin", admin_key, description="TETHER_SERVER_ADMIN_KEY")
        with engine.begin() as connection:
            connection.execute(
                update(api_keys)
                .where(
                    api_keys.c.from_env.is_(True),
                    api_keys.c.revoked_at.is_(None),
                    api_keys.c.digest != digest(admin_key),
                )
                .values(revoked_at=time.time())
            )
            # A key registered before keys remembered their source (or by `--key`) is marked
            # now, so that the next rotation revokes it.
            # Set again to an earlier value, the variable's key is revoked from the rotation
            # before: it is the operator's way in, so it works again (as does its user).
            connection.execute(
                update(api_keys)
                .where(api_keys.c.digest == digest(admin_key))
                .values(from_env=True, revoked_at=None, expires_at=None)
            )
            owner = select(api_keys.c.user_id).where(api_keys.c.digest == digest(admin_key))
            connection.execute(
                update(users)
                .where(users.c.id.in_(owner.scalar_subquery()))
                .values(disabled=False, admin=True)
            )
    return None
