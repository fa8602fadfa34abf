"""Users and API keys. Keys are random, shown once, and stored only as their sha256."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from tether.server.storage.schema import api_keys, users

KEY_PREFIX = "tth_"


@dataclass(frozen=True)
class User:
    id: int
    name: str
    admin: bool


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def user_for_key(connection: Connection, key: str) -> User | None:
    row = connection.execute(
        select(users.c.id, users.c.name, users.c.admin)
        .join(api_keys, api_keys.c.user_id == users.c.id)
        .where(api_keys.c.digest == digest(key))
    ).first()
    return None if row is None else User(id=row.id, name=row.name, admin=bool(row.admin))


def user_by_name(connection: Connection, name: str) -> User | None:
    row = connection.execute(
        select(users.c.id, users.c.name, users.c.admin).where(users.c.name == name)
    ).first()
    return None if row is None else User(id=row.id, name=row.name, admin=bool(row.admin))


def add_user(engine: Engine, name: str, *, admin: bool = False) -> User:
    if not name or len(name) > 128:
        raise ValueError("a user name must be 1-128 characters")
    exists = ValueError(f"user {name!r} exists already")
    try:
        with engine.begin() as connection:
            existing = connection.execute(select(users.c.id).where(users.c.name == name)).first()
            if existing is not None:
                raise exists
            user_id = connection.execute(
                insert(users).values(name=name, admin=admin, created_at=time.time())
            ).inserted_primary_key
            assert user_id is not None
    except IntegrityError as exc:  # another server process inserted it since we looked
        raise exists from exc
    return User(id=int(user_id[0]), name=name, admin=admin)


def create_key(engine: Engine, user_name: str, key: str | None = None) -> str:
    """Create (or register the given) key for ``user_name``; returns the key, shown once."""
    key = key or new_key()
    try:
        with engine.begin() as connection:
            row = connection.execute(select(users.c.id).where(users.c.name == user_name)).first()
            if row is None:
                raise ValueError(f"no user {user_name!r}; add it with `tether server user add`")
            if connection.execute(
                select(api_keys.c.id).where(api_keys.c.digest == digest(key))
            ).first():
                return key
            connection.execute(
                insert(api_keys).values(
                    user_id=row.id, prefix=key[:8], digest=digest(key), created_at=time.time()
                )
            )
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
    random one, and is registered on later starts too if it is missing.
    """
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
        create_key(engine, "admin", admin_key)
    return None
