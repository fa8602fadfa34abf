"""``tether export RUN``: a local run's history as CSV or Parquet."""

from __future__ import annotations

import csv
import importlib
import math
import sys
from pathlib import Path
from typing import IO, Any

import click

from tether.cli.output import console, fail
from tether.errors import TetherError, UsageError
from tether.store.run_data import RunData, load_run

FIXED_COLUMNS = ("_step", "_time", "_writer")


@click.command("export")
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "parquet"]),
    default="csv",
    show_default=True,
    help="File format.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="File to write. Default: <run id>.<format>; '-' writes CSV to stdout.",
)
@click.option("--dir", "directory", type=click.Path(path_type=Path), help="Where to look for RUN.")
def export_command(
    run_ref: str, file_format: str, output: Path | None, directory: Path | None
) -> None:
    """Write RUN's history (a path, an id or 'latest'): _step, _time, _writer, then each key."""
    target = output
    try:
        run = load_run(run_ref, dir=directory)
        columns = [*FIXED_COLUMNS, *run.keys]
        target = output or Path(f"{run.id}.{file_format}")
        if file_format == "parquet":
            if str(target) == "-":
                raise UsageError("parquet cannot go to stdout; pass --output FILE")
            write_parquet(run, columns, target)
        elif str(target) == "-":
            write_csv(run, columns, sys.stdout)
            return
        else:
            with open(target, "w", newline="", encoding="utf-8") as handle:
                write_csv(run, columns, handle)
    except TetherError as exc:
        raise fail(exc) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot write {target}: {exc.strerror or exc}") from exc
    console().print(f"Wrote {len(run.history):,} rows x {len(columns)} columns to {target}")


def write_csv(run: RunData, columns: list[str], handle: IO[str]) -> None:
    """One line a row; a key a row did not log is left empty."""
    writer = csv.writer(handle)
    writer.writerow(columns)
    for row in run.history:
        writer.writerow([_cell(row.get(column)) for column in columns])


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def write_parquet(run: RunData, columns: list[str], target: Path) -> None:
    """A column a key; rows that did not log a key hold null there."""
    try:  # through importlib: pyarrow ships no type information
        pa: Any = importlib.import_module("pyarrow")
        pq: Any = importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise UsageError(
            "parquet export needs pyarrow: pip install pyarrow (or use --format csv)"
        ) from None
    history = run.history
    arrays = {}
    for column in columns:
        values = [row.get(column) for row in history]
        try:
            arrays[column] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise UsageError(
                f"column {column!r} mixes types parquet cannot hold in one column ({exc}); "
                "export it with --format csv instead"
            ) from exc
    pq.write_table(pa.table(arrays), target)
