"""The ``tether`` command line: one module per command group, wired together here."""

from __future__ import annotations

import click

from tether import __version__
from tether.cli.logs import logs_command
from tether.cli.runs import ls_command, show_command
from tether.server.cli import server_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tether")
def cli() -> None:
    """tether: track machine-learning runs from every process of a training job."""


cli.add_command(ls_command)
cli.add_command(show_command)
cli.add_command(logs_command)
cli.add_command(server_group)


def main() -> None:
    cli()
