"""``tether server``: run the server, and manage its users and keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tether import _env_vars
from tether.cli.extras import extras_needed
from tether.server.admin_cli import add_admin_commands
from tether.server.config import ServerSettings, server_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine


@click.group("server", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, help="Port (0: any free port).")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Database and files.")
@click.option("--database-url", help="postgresql://user@host/db (default: SQLite in data dir).")
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="A public name the server answers (Host header), e.g. tether.example.org; "
    "repeatable, added to $TETHER_SERVER_ALLOWED_HOSTS (comma-separated). Loopback names are "
    "always answered; with no name given, any Host is.",
)
@click.option(
    "--blob-url",
    help="Where media and artifact bytes live: file:///path or s3://bucket/prefix (endpoint "
    "and credentials from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
    "AWS_REGION). Default: blobs/ in the data dir; $TETHER_SERVER_BLOB_URL.",
)
@click.pass_context
def server_group(
    ctx: click.Context,
    host: str,
    port: int,
    data_dir: Path | None,
    database_url: str | None,
    allowed_hosts: tuple[str, ...],
    blob_url: str | None,
) -> None:
    """Run the tether server (FastAPI + uvicorn), or manage users and keys."""
    try:
        ctx.obj = server_settings(
            data_dir, database_url, allowed_hosts=allowed_hosts, blob_url=blob_url
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if ctx.invoked_subcommand is None:
        with extras_needed("tether server"):
            serve(ctx.obj, host, port)


def serve(
    settings: ServerSettings,
    host: str,
    port: int,
    *,
    on_ready: Callable[[str, Engine], None] | None = None,
    announce: bool = True,
) -> None:
    """Migrate, bootstrap the admin, listen on ``host:port`` and serve until interrupted."""
    import socket

    import uvicorn

    from tether.server.app import create_app
    from tether.server.auth import KeyRefusedError, bootstrap_admin
    from tether.server.protect import allowed_hosts

    try:
        app = create_app(settings)
    except ValueError as exc:  # a blob URL that names no store tether can use
        raise click.ClickException(str(exc)) from exc
    try:
        new_key = bootstrap_admin(app.state.engine, _env_vars.get(_env_vars.SERVER_ADMIN_KEY))
    except KeyRefusedError as exc:
        raise click.ClickException(str(exc)) from exc
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port (0: any)"
        ) from exc
    sock.listen(128)  # connections made before uvicorn runs wait in the backlog
    bound_port = sock.getsockname()[1]
    app.state.allowed_hosts = allowed_hosts(settings, bound_port)
    url = f"http://{host}:{bound_port}"
    if new_key and announce:
        click.echo(f"created user 'admin'; its API key (shown once): {new_key}")
        click.echo(f"log in with:  tether login --host {url} {new_key}")
    click.echo(f"tether server listening on {url} (data in {settings.data_dir})", err=True)
    if on_ready is not None:
        on_ready(url, app.state.engine)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


add_admin_commands(server_group)
