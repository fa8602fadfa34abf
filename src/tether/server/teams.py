"""Teams, roles and who may do what in a namespace.

Every project has an owner, a user or a team (one ``users`` table, told apart by ``kind``).
What a caller (a user's key, or a team's key) may do in a namespace is its *role* there:

========================  =======================================================
caller                    role in namespace ``owner``
========================  =======================================================
the owner itself          ``admin`` (a team's own key: ``member``, it cannot manage)
a server admin            ``admin``, everywhere
a member of team owner    the role of its membership: ``viewer``, ``member``, ``admin``
anyone else               none: the namespace answers 404, as if it did not exist
========================  =======================================================

``viewer`` reads runs, ``member`` also writes them, ``admin`` also manages the team's members
and keys. A role too low answers 403; no role at all answers 404, so a key never learns which
teams and projects exist beyond its own.
"""

from __future__ import annotations

import time
from typing import Any, Final

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from tether.server.auth import User, add_user, user_by_name
from tether.server.storage.schema import memberships, users

ROLES: Final = ("viewer", "member", "admin")
VIEWER, MEMBER, ADMIN = ROLES


class AccessError(Exception):
    """The caller may not do this: ``status`` is 404 (not visible to it) or 403 (visible,
    but its role is too low)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def rank(role: str | None) -> int:
    return -1 if role is None else ROLES.index(role)


def role_in(connection: Connection, caller: User, owner: User) -> str | None:
    if caller.id == owner.id:
        # The owner as read from the database says whether this is a team's key, whatever
        # the caller object was built from (a session cookie's user, say).
        return MEMBER if owner.is_team else ADMIN
    if caller.admin:
        return ADMIN
    if not owner.is_team or caller.is_team:
        return None
    found = connection.execute(
        select(memberships.c.role).where(
            memberships.c.team_id == owner.id, memberships.c.user_id == caller.id
        )
    ).scalar()
    return None if found is None else str(found)


def default_owner(connection: Connection, caller: User) -> User:
    """Where a caller's runs go when it names no owner: its default team, or itself."""
    row = connection.execute(
        select(users.c.default_owner_id).where(users.c.id == caller.id)
    ).first()
    if row is None or row.default_owner_id is None:
        return caller
    found = connection.execute(
        select(users.c.name).where(users.c.id == row.default_owner_id)
    ).scalar()
    owner = None if found is None else user_by_name(connection, str(found))
    return owner or caller


def require(connection: Connection, caller: User, owner_name: str | None, need: str) -> User:
    """The namespace ``owner_name`` (None: the caller's default), if the caller's role there
    is at least ``need``; otherwise ``AccessError``."""
    owner = (
        default_owner(connection, caller)
        if owner_name is None
        else user_by_name(connection, owner_name)
    )
    role = None if owner is None else role_in(connection, caller, owner)
    if owner is None or role is None:
        raise AccessError(404, f"no owner {owner_name!r} that this key can see")
    if rank(role) < rank(need):
        what = {VIEWER: "read", MEMBER: "write runs in", ADMIN: "manage"}[need]
        raise AccessError(
            403,
            f"your role in {owner.name!r} is {role!r}; to {what} it you need {need!r} "
            "(a team admin can change your role)",
        )
    return owner


def create_team(engine: Engine, name: str, *, admin: str | None = None) -> User:
    """A new team; ``admin`` (a user name) becomes its first admin."""
    if admin is not None:
        with engine.connect() as connection:
            _named(connection, admin, "user")  # refused before the team exists, not after
    team = add_user(engine, name, kind="team")
    if admin is not None:
        set_role(engine, name, admin, ADMIN)
    return team


def _named(connection: Connection, name: str, kind: str) -> User:
    found = user_by_name(connection, name)
    if found is None or found.kind != kind:
        hint = "tether server team add" if kind == "team" else "tether server user add"
        raise LookupError(f"no {kind} {name!r}; create it with `{hint}`")
    return found


def set_role(engine: Engine, team_name: str, user_name: str, role: str) -> None:
    """Add ``user_name`` to the team with ``role``, or change its role."""
    if role not in ROLES:
        raise ValueError(f"role {role!r}: use one of {', '.join(ROLES)}")
    with engine.begin() as connection:
        team = _named(connection, team_name, "team")
        user = _named(connection, user_name, "user")
        changed = connection.execute(
            update(memberships)
            .where(memberships.c.team_id == team.id, memberships.c.user_id == user.id)
            .values(role=role)
        ).rowcount
        if not changed:
            try:
                with connection.begin_nested():
                    connection.execute(
                        insert(memberships).values(
                            team_id=team.id, user_id=user.id, role=role, created_at=time.time()
                        )
                    )
            except IntegrityError:  # added by a concurrent request: set its role instead
                connection.execute(
                    update(memberships)
                    .where(memberships.c.team_id == team.id, memberships.c.user_id == user.id)
                    .values(role=role)
                )


def remove_member(engine: Engine, team_name: str, user_name: str) -> bool:
    with engine.begin() as connection:
        team = _named(connection, team_name, "team")
        user = _named(connection, user_name, "user")
        removed = connection.execute(
            delete(memberships).where(
                memberships.c.team_id == team.id, memberships.c.user_id == user.id
            )
        ).rowcount
    return bool(removed)


def members(connection: Connection, team: User) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(users.c.name, memberships.c.role, memberships.c.created_at)
        .join(memberships, memberships.c.user_id == users.c.id)
        .where(memberships.c.team_id == team.id)
        .order_by(users.c.name)
    )
    return [{"user": r.name, "role": r.role, "added_at": r.created_at} for r in rows]


def teams_of(connection: Connection, caller: User) -> list[dict[str, Any]]:
    """The teams the caller can see, with its role in each (a server admin sees all)."""
    if caller.is_team:
        return [{"name": caller.name, "role": MEMBER}]
    if caller.admin:
        rows = connection.execute(
            select(users.c.name).where(users.c.kind == "team").order_by(users.c.name)
        )
        return [{"name": r.name, "role": ADMIN} for r in rows]
    rows = connection.execute(
        select(users.c.name, memberships.c.role)
        .join(memberships, memberships.c.team_id == users.c.id)
        .where(memberships.c.user_id == caller.id)
        .order_by(users.c.name)
    )
    return [{"name": r.name, "role": r.role} for r in rows]


def list_users(connection: Connection) -> list[dict[str, Any]]:
    owners = users.alias("default_owner")
    rows = connection.execute(
        select(
            users.c.name,
            users.c.admin,
            users.c.disabled,
            users.c.created_at,
            owners.c.name.label("default_owner"),
        )
        .outerjoin(owners, owners.c.id == users.c.default_owner_id)
        .where(users.c.kind == "user")
        .order_by(users.c.name)
    )
    return [
        {
            "name": r.name,
            "admin": bool(r.admin),
            "disabled": bool(r.disabled),
            "created_at": r.created_at,
            "default_owner": r.default_owner,
        }
        for r in rows
    ]


def update_user(
    engine: Engine,
    name: str,
    *,
    disabled: bool | None = None,
    admin: bool | None = None,
    default_owner: str | None = None,
    clear_default_owner: bool = False,
) -> None:
    """Change a user: disable it (its keys stop working on the next request), make it an
    admin, or set the namespace its runs go to when the client names none."""
    with engine.begin() as connection:
        user = _named(connection, name, "user")
        values: dict[str, Any] = {}
        if disabled is not None:
            values["disabled"] = disabled
        if admin is not None:
            values["admin"] = admin
        if clear_default_owner:
            values["default_owner_id"] = None
        elif default_owner is not None:
            owner = user_by_name(connection, default_owner)
            if owner is None:
                raise LookupError(f"default owner {default_owner!r}: no such user or team")
            values["default_owner_id"] = owner.id
        if values:
            connection.execute(update(users).where(users.c.id == user.id).values(**values))
