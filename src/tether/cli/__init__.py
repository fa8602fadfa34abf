"""The ``tether`` command line: one module per command group, wired together here.

Each command's module is imported only when that command runs (or when ``--help`` lists them
all): ``tether show`` should not pay for importing the server, the uploader and rich's
console to print a run.
"""

from __future__ import annotations

import importlib
from typing import Final

import click

from tether import __version__

# command name -> "module:attribute" of its click command
COMMANDS: Final = {
    "ls": "tether.cli.runs:ls_command",
    "show": "tether.cli.runs:show_command",
    "logs": "tether.cli.logs:logs_command",
    "server": "tether.server.cli:server_group",
    "login": "tether.cli.auth:login_command",
    "logout": "tether.cli.auth:logout_command",
    "status": "tether.cli.auth:status_command",
    "online": "tether.cli.auth:online_command",
    "offline": "tether.cli.auth:offline_command",
    "disabled": "tether.cli.auth:disabled_command",
    "sync": "tether.cli.sync:sync_command",
    "artifact": "tether.cli.artifact:artifact_group",
    "export": "tether.cli.export:export_command",
    "ui": "tether.cli.ui:ui_command",
}


class LazyGroup(click.Group):
    """A group whose commands are imported by name when first needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command), target
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tether")
def cli() -> None:
    """tether: track machine-learning runs from every process of a training job."""


def main() -> None:
    cli()
