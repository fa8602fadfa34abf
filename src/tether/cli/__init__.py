"""The ``tether`` command line: one module per command group, wired together here."""

from __future__ import annotations

import click

from tether import __version__
from tether.cli.auth import (
    disabled_command,
    login_command,
    logout_command,
    offline_command,
    online_command,
    status_command,
)
from tether.cli.export import export_command
from tether.cli.logs import logs_command
from tether.cli.runs import ls_command, show_command
from tether.cli.sync import sync_command
from tether.cli.ui import ui_command
from tether.server.cli import server_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tether")
def cli() -> None:
    """tether: track machine-learning runs from every process of a training job."""


cli.add_command(ls_command)
cli.add_command(show_command)
cli.add_command(logs_command)
cli.add_command(server_group)
cli.add_command(login_command)
cli.add_command(logout_command)
cli.add_command(status_command)
cli.add_command(online_command)
cli.add_command(offline_command)
cli.add_command(disabled_command)
cli.add_command(sync_command)
cli.add_command(export_command)
cli.add_command(ui_command)


def main() -> None:
    cli()
