"""``tether server user|team|key ...``: manage users, teams and keys in the server's database.

These work on the database directly (the same one ``tether server`` uses: ``--data-dir`` or
``--database-url`` before the subcommand), so they need no running server and no key; a
remote admin uses the HTTP API instead (``/api/v1/users``, ``/teams``, ``/keys``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import click

from tether.server.config import ServerSettings

if TYPE_CHECKING:
    from sqlalchemy import Engine


def add_admin_commands(server: click.Group) -> None:
    """Register the ``user``, ``team`` and ``key`` groups and ``gc`` under ``tether server``."""
    for group in (user_group, team_group, key_group, gc_command):
        server.add_command(group)


@contextmanager
def _refusals() -> Iterator[None]:
    """Our refusals (a name taken, a user missing) as click errors, not tracebacks."""
    try:
        yield
    except (ValueError, LookupError) as exc:
        message = exc.args[0] if isinstance(exc, LookupError) and exc.args else str(exc)
        raise click.ClickException(str(message)) from exc


def _engine(settings: ServerSettings) -> Engine:
    from tether.server.storage.db import make_engine, migrate

    engine = make_engine(settings.database_url)
    migrate(engine)
    return engine


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        click.echo("(none)")
        return
    cells = [[str(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


@click.group("user")
def user_group() -> None:
    """Manage users: add, list, disable, enable, default-owner."""


@user_group.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Make the user a server admin.")
@click.pass_obj
def user_add(settings: ServerSettings, name: str, admin: bool) -> None:
    """Add user NAME and print its first API key (shown once)."""
    from tether.server.auth import add_user, create_key

    engine = _engine(settings)
    with _refusals():
        add_user(engine, name, admin=admin)
        click.echo(create_key(engine, name, description="first key"))


@user_group.command("list")
@click.pass_obj
def user_list(settings: ServerSettings) -> None:
    """List users: admin, disabled, default owner."""
    from tether.server.teams import list_users

    with _engine(settings).connect() as connection:
        _table(list_users(connection), ["name", "admin", "disabled", "default_owner"])


@user_group.command("disable")
@click.argument("name")
@click.pass_obj
def user_disable(settings: ServerSettings, name: str) -> None:
    """Disable user NAME: its keys stop working on their next request."""
    from tether.server.teams import update_user

    with _refusals():
        update_user(_engine(settings), name, disabled=True)
    click.echo(f"disabled {name!r}: its keys no longer work")


@user_group.command("enable")
@click.argument("name")
@click.pass_obj
def user_enable(settings: ServerSettings, name: str) -> None:
    """Enable user NAME again (its keys that are not revoked or expired work again)."""
    from tether.server.teams import update_user

    with _refusals():
        update_user(_engine(settings), name, disabled=False)
    click.echo(f"enabled {name!r}")


@user_group.command("default-owner")
@click.argument("name")
@click.argument("owner", required=False)
@click.pass_obj
def user_default_owner(settings: ServerSettings, name: str, owner: str | None) -> None:
    """Where NAME's runs go when the client names no owner: OWNER (a team), or, without
    OWNER, the user's own namespace."""
    from tether.server.teams import update_user

    with _refusals():
        update_user(_engine(settings), name, default_owner=owner, clear_default_owner=owner is None)
    click.echo(f"{name!r} writes to {owner or name!r} by default")


@click.group("team")
def team_group() -> None:
    """Manage teams: add, list, members, set-role, remove."""


@team_group.command("add")
@click.argument("name")
@click.option("--admin", "admin_user", help="A user to make the team's first admin.")
@click.pass_obj
def team_add(settings: ServerSettings, name: str, admin_user: str | None) -> None:
    """Add team NAME (a namespace: runs go to NAME/project/run)."""
    from tether.server.teams import create_team

    with _refusals():
        create_team(_engine(settings), name, admin=admin_user)
    click.echo(f"created team {name!r}")


@team_group.command("list")
@click.pass_obj
def team_list(settings: ServerSettings) -> None:
    """List teams."""
    from tether.server.auth import User
    from tether.server.teams import teams_of

    everyone = User(id=-1, name="", admin=True)
    with _engine(settings).connect() as connection:
        _table(teams_of(connection, everyone), ["name"])


@team_group.command("members")
@click.argument("team")
@click.pass_obj
def team_members(settings: ServerSettings, team: str) -> None:
    """List TEAM's members and their roles."""
    from tether.server.auth import user_by_name
    from tether.server.teams import members

    with _engine(settings).connect() as connection:
        found = user_by_name(connection, team)
        if found is None or not found.is_team:
            raise click.ClickException(f"no team {team!r}; `tether server team list` lists them")
        _table(members(connection, found), ["user", "role"])


@team_group.command("set-role")
@click.argument("team")
@click.argument("user")
@click.argument("role", type=click.Choice(["viewer", "member", "admin"]))
@click.pass_obj
def team_set_role(settings: ServerSettings, team: str, user: str, role: str) -> None:
    """Add USER to TEAM with ROLE, or change its role."""
    from tether.server.teams import set_role

    with _refusals():
        set_role(_engine(settings), team, user, role)
    click.echo(f"{user!r} is now {role!r} in {team!r}")


@team_group.command("remove")
@click.argument("team")
@click.argument("user")
@click.pass_obj
def team_remove(settings: ServerSettings, team: str, user: str) -> None:
    """Remove USER from TEAM."""
    from tether.server.teams import remove_member

    with _refusals():
        removed = remove_member(_engine(settings), team, user)
    click.echo(f"removed {user!r} from {team!r}" if removed else f"{user!r} was not in {team!r}")


@click.group("key")
def key_group() -> None:
    """Manage API keys: create, list, revoke."""


@key_group.command("create")
@click.argument("owner")
@click.option("--description", help="What the key is for (shown in key lists).")
@click.option(
    "--expires-in", "days", type=click.FloatRange(min=0, min_open=True), help="Days it works."
)
@click.pass_obj
def key_create(
    settings: ServerSettings, owner: str, description: str | None, days: float | None
) -> None:
    """Create an API key for OWNER (a user, or a team: a key that acts as its member) and
    print it (shown once)."""
    from tether.server.auth import create_key

    expires_at = None if days is None else time.time() + days * 86400
    with _refusals():
        key = create_key(_engine(settings), owner, description=description, expires_at=expires_at)
    click.echo(key)


@key_group.command("list")
@click.argument("owner")
@click.pass_obj
def key_list(settings: ServerSettings, owner: str) -> None:
    """List OWNER's keys: id, prefix, state, description, created, last used, expiry."""
    from tether.server.auth import user_by_name
    from tether.server.keys import list_keys

    with _engine(settings).connect() as connection:
        found = user_by_name(connection, owner)
        if found is None:
            raise click.ClickException(f"no user or team {owner!r}")
        rows = [
            {
                **row,
                "description": row["description"] or "-",
                "created": _when(row["created_at"]),
                "last_used": _when(row["last_used_at"]),
                "expires": _when(row["expires_at"]),
            }
            for row in list_keys(connection, found)
        ]
    columns = ["id", "prefix", "state", "description", "created", "last_used", "expires"]
    _table(rows, columns)


@key_group.command("revoke")
@click.argument("key_id", type=click.IntRange(min=1))
@click.pass_obj
def key_revoke(settings: ServerSettings, key_id: int) -> None:
    """Revoke key KEY_ID (from `key list`): it stops working on its next request."""
    from tether.server.keys import key_owner_id, revoke_key

    engine = _engine(settings)
    with engine.connect() as connection:
        if key_owner_id(connection, key_id) is None:
            raise click.ClickException(f"no key {key_id}; `tether server key list OWNER`")
    revoked = revoke_key(engine, key_id)
    click.echo(f"revoked key {key_id}" if revoked else f"key {key_id} was revoked already")


@click.command("gc")
@click.option(
    "--grace-hours",
    type=click.FloatRange(min=0),
    default=24.0,
    show_default=True,
    help="Never delete a blob younger than this (uploads in flight are safe).",
)
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@click.pass_obj
def gc_command(settings: ServerSettings, grace_hours: float, dry_run: bool) -> None:
    """Delete blobs that no media, artifact version or running run references."""
    from tether.server.blobs import open_blob_store
    from tether.server.gc import collect

    try:
        store = open_blob_store(settings.blob_url, settings.data_dir)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    result = collect(_engine(settings), store, grace_s=grace_hours * 3600, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    click.echo(
        f"examined {result.examined} blobs; {verb} {len(result.deleted)} "
        f"({result.freed_bytes:,} bytes); kept {result.kept_young} younger than "
        f"{grace_hours:g} h"
    )
