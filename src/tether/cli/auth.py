"""``tether login | logout | status`` and ``tether online | offline | disabled [DIR]``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from tether import _env_vars
from tether._client_config import (
    config_path,
    configured_base_url,
    forget_login,
    load_client_config,
    mask_key,
    normalize_base_url,
    save_login,
    set_directory_mode,
)
from tether._settings import default_mode
from tether.cli.output import fail
from tether.errors import TetherError
from tether.store import layout


@click.command("login")
@click.argument("key", required=False)
@click.option("--host", help="Server URL. Default: TETHER_BASE_URL, the last login's, or local.")
def login_command(key: str | None, host: str | None) -> None:
    """Check an API KEY with the server and store it (asked for, hidden, if not given)."""
    from tether.sync.http import HttpClient

    try:
        base_url = normalize_base_url(host) if host else configured_base_url()
        if not key:
            key = click.prompt(f"API key for {base_url}", hide_input=True)
        assert key is not None
        with HttpClient(base_url, key.strip(), timeout=15.0) as client:
            who = client.get_json("/viewer")
        path = save_login(base_url, key)
    except TetherError as exc:
        raise fail(exc) from exc
    out = _console()
    out.print(f"Logged in to {base_url} as [bold]{who.get('user', '?')}[/]; key stored in {path}")
    if _env_vars.get(_env_vars.API_KEY):
        out.print(
            f"[yellow]{_env_vars.API_KEY.name} is set in this environment and overrides it.[/]"
        )


@click.command("logout")
def logout_command() -> None:
    """Forget the stored API key."""
    try:
        removed = forget_login()
    except TetherError as exc:
        raise fail(exc) from exc
    out = _console()
    if removed:
        out.print(f"Logged out: key removed from {config_path()}")
    else:
        out.print(f"No key was stored in {config_path()}")
    if _env_vars.get(_env_vars.API_KEY):
        out.print(f"[yellow]{_env_vars.API_KEY.name} is still set in this environment.[/]")


@click.command("status")
def status_command() -> None:
    """Server, user, this directory's mode, and runs here still to upload.

    The directory is TETHER_DIR when set, else the current one: where init() puts runs.
    """
    from tether.sync.http import HttpClient
    from tether.sync.run_upload import unsent_bytes

    out = _console()
    here = Path(_env_vars.get(_env_vars.DIR) or Path.cwd()).absolute()  # where init() puts runs
    try:
        config = load_client_config()
        base_url = configured_base_url()
        mode, why = _mode_for(here, has_key=config is not None)
    except TetherError as exc:
        raise fail(exc) from exc
    url_from = _env_vars.BASE_URL.name if _env_vars.get(_env_vars.BASE_URL) else str(config_path())
    out.print(f"server:  {base_url}  [dim]({url_from})[/]")
    if config is None:
        out.print("key:     none: run `tether login`")
    else:
        key_from = (
            _env_vars.API_KEY.name if _env_vars.get(_env_vars.API_KEY) else str(config_path())
        )
        out.print(f"key:     {mask_key(config.api_key)}  [dim]({key_from})[/]")
        try:
            with HttpClient(base_url, config.api_key, timeout=10.0) as client:
                who = client.get_json("/viewer")
            admin = " (admin)" if who.get("admin") else ""
            out.print(f"user:    {who.get('user', '?')}{admin}")
        except TetherError as exc:
            out.print(f"user:    [red]unknown[/]: {exc}")
    out.print(f"mode:    {mode}  [dim]({why})[/]")
    try:
        run_dirs = layout.list_run_dirs(here)
    except TetherError:
        run_dirs = []
    waiting = [(d, unsent_bytes(d, base_url=base_url)) for d in run_dirs]
    waiting = [(d, n) for d, n in waiting if n > 0]
    if waiting:
        total = sum(n for _, n in waiting)
        out.print(
            f"pending: {len(waiting)} run(s), {total:,} bytes not uploaded under "
            f"{layout.runs_root(here)}; `tether sync` uploads them"
        )
    else:
        out.print(f"pending: nothing to upload under {layout.runs_root(here)}")


def _mode_for(root: Path, *, has_key: bool) -> tuple[str, str]:
    """The mode ``init()`` would use here without a ``mode=`` argument, and why."""
    from_env = _env_vars.get(_env_vars.MODE)
    if from_env:
        return from_env.strip().lower(), _env_vars.MODE.name
    return default_mode(root, has_key=has_key)


def _mode_command(mode: str, help_text: str) -> click.Command:
    @click.command(mode, help=help_text)
    @click.argument("directory", required=False, type=click.Path(path_type=Path))
    def command(directory: Path | None) -> None:
        root = (directory or Path.cwd()).absolute()
        try:
            path = set_directory_mode(root, mode)
            has_key = load_client_config() is not None
        except TetherError as exc:
            raise fail(exc) from exc
        out = _console()
        out.print(f"Runs started in {root} are now {mode} [dim]({path})[/]")
        env_mode = _env_vars.get(_env_vars.MODE)
        if env_mode and env_mode.strip().lower() != mode:
            out.print(
                f"[yellow]{_env_vars.MODE.name}={env_mode} is set here and takes precedence.[/]"
            )
        if mode == "online" and not has_key:
            out.print("[yellow]No API key yet: run `tether login` first.[/]")

    return command


online_command = _mode_command("online", "Upload runs started in DIRECTORY while they run.")
offline_command = _mode_command(
    "offline", "Keep runs started in DIRECTORY on disk; upload later with `tether sync`."
)
disabled_command = _mode_command("disabled", "Make tether a no-op for runs started in DIRECTORY.")


def _console() -> Console:
    # Long lines (URLs, paths, errors) stay whole when piped or grepped.
    return Console(highlight=False, soft_wrap=True)
