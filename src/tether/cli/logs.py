"""``tether logs``: a run's console output, per writer, optionally followed live."""

from __future__ import annotations

import time
from pathlib import Path

import click

from tether.cli.output import fail
from tether.errors import TetherError
from tether.store import layout
from tether.store.run_data import ConsoleLine, read_run_dir
from tether.store.states import RunState

POLL_S = 0.5


@click.command("logs")
@click.argument("run_ref", metavar="RUN")
@click.option("--dir", "directory", type=click.Path(path_type=Path), help="Where to look for RUN.")
@click.option("--writer", "writers", multiple=True, help="Only these writers (main, rank1...).")
@click.option("--stream", type=click.Choice(["stdout", "stderr"]), help="Only this stream.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines while the run runs.")
@click.option("--prefix/--no-prefix", default=True, help="Prefix each line with its writer.")
def logs_command(
    run_ref: str,
    directory: Path | None,
    writers: tuple[str, ...],
    stream: str | None,
    follow: bool,
    prefix: bool,
) -> None:
    """Print the console output of RUN (a path, an id or 'latest')."""
    try:
        run_dir = layout.find_run_dir(run_ref, directory=directory)
    except TetherError as exc:
        raise fail(exc) from exc
    shown = 0
    while True:
        run = read_run_dir(run_dir)
        lines = [line for line in run.console_lines() if _wanted(line, writers, stream)]
        for line in lines[shown:]:
            text = f"[{line.writer}] {line.text}" if prefix else line.text
            click.echo(text, err=line.stream == "stderr" and not prefix)
        shown = len(lines)
        if not follow or run.state != RunState.RUNNING:
            return
        time.sleep(POLL_S)


def _wanted(line: ConsoleLine, writers: tuple[str, ...], stream: str | None) -> bool:
    if writers and line.writer not in writers:
        return False
    return stream is None or line.stream == stream
