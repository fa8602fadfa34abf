"""``tether ui [DIR]``: the whole web UI for one person, with no login and no set-up.

Starts a server on 127.0.0.1 with the embedded SQLite default (its data in
``DIR/tether/.ui``, never the one ``TETHER_SERVER_DATABASE_URL`` names), imports the runs
under ``DIR/tether`` and keeps following them while they grow (the same upload path as
``tether sync``), and prints the URL. Requests without a
key act as the local user, which is safe because it listens on loopback only and answers
only loopback ``Host`` names with its own port, so that a DNS-rebinding page cannot read it.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tether._threads import start_without_signals
from tether.cli.extras import extras_needed

if TYPE_CHECKING:
    from sqlalchemy import Engine

FOLLOW_INTERVAL_S = 2.0
LOCAL_USER = "admin"


@click.command("ui")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--port", default=8080, show_default=True, help="Port (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address.")
def ui_command(directory: Path | None, port: int, host: str) -> None:
    """Open the runs under DIRECTORY (default: .) in the web UI, following them live."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise click.BadParameter(
            "tether ui needs no login, so it listens on loopback only; for a shared server "
            "use `tether server`",
            param_hint="--host",
        )
    from tether.server.auth import bootstrap_admin, create_key, user_for_key
    from tether.server.cli import serve
    from tether.server.config import server_settings
    from tether.store import layout

    base = (directory or Path.cwd()).absolute()
    runs_root = layout.runs_root(base)
    # Its own database only, whatever TETHER_SERVER_* say: keyless access to a shared
    # server's database would hand its runs to anyone on this machine.
    settings = replace(
        server_settings(runs_root / ".ui", None, use_environment=False),
        local_user=LOCAL_USER,
        loopback_only=True,  # and only Host values naming loopback with its port (DNS rebinding)
    )

    def on_ready(url: str, engine: Engine) -> None:
        bootstrap_admin(engine, None)
        key = create_key(engine, LOCAL_USER, _local_key(settings.data_dir))
        with engine.connect() as connection:
            usable = user_for_key(connection, key) is not None
        if not usable:  # revoked on the Keys page: the importer needs a key that works
            key = create_key(engine, LOCAL_USER, _local_key(settings.data_dir, renew=True))
        follower = threading.Thread(
            target=_follow, args=(base, url, key), name="tether-ui-follow", daemon=True
        )
        start_without_signals(follower)  # Ctrl-C belongs to the server's main thread
        click.echo(f"tether ui: {url}  (runs under {runs_root}, followed live; Ctrl-C to stop)")

    with extras_needed("tether ui"):
        serve(settings, host, port, on_ready=on_ready, announce=False)


def _local_key(data_dir: Path, *, renew: bool = False) -> str:
    """A key for the importer, kept in the UI's data dir (mode 0600) across restarts."""
    import os
    import secrets

    path = data_dir / "local.key"
    if path.is_file() and not renew:
        return path.read_text().strip()
    key = "tth_" + secrets.token_urlsafe(32)
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def _follow(base: Path, url: str, key: str) -> None:
    """Import the runs under ``base`` now, then again every few seconds, forever."""
    import time

    from tether._diagnostics import warn_failure
    from tether.sync.offline import sync_paths

    while True:
        try:
            if (base / "tether").is_dir() or any(base.glob("run-*")):
                sync_paths([base], base_url=url, api_key=key, progress=False)
        except Exception as exc:  # the UI keeps serving what it has
            warn_failure("ui-follow", f"could not import runs from {base} ({exc})")
        time.sleep(FOLLOW_INTERVAL_S)
