"""``tether export RUN``: a local run's history as CSV or Parquet, streamed.

Rows come from ``RunData.iter_rows()``, a row block per writer at a time, so exporting a run
holds a few blocks in memory, not its history: CSV is written row by row, Parquet in row
groups of ``PARQUET_BATCH`` rows, after a first pass that settles each column's type.
"""

from __future__ import annotations

import csv
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click

from tether.cli.output import console, fail
from tether.errors import TetherError, UsageError
from tether.store.run_data import RunData, load_run

FIXED_COLUMNS = ("_step", "_time", "_writer")
PARQUET_BATCH = 65_536


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
            count = write_parquet(run, columns, target)
        elif str(target) == "-":
            write_csv(run, columns, sys.stdout)
            return
        else:
            with open(target, "w", newline="", encoding="utf-8") as handle:
                count = write_csv(run, columns, handle)
    except TetherError as exc:
        raise fail(exc) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot write {target}: {exc.strerror or exc}") from exc
    console().print(f"Wrote {count:,} rows x {len(columns)} columns to {target}")


def write_csv(run: RunData, columns: list[str], handle: IO[str]) -> int:
    """One line a row; a key a row did not log is left empty. Returns the rows written.

    The csv module writes None as an empty cell and floats by ``repr`` (``nan``, ``inf``,
    ``-inf``), so rows go to it as they are.
    """
    writer = csv.writer(handle)
    writer.writerow(columns)
    count = 0
    for row in run.iter_rows():
        writer.writerow([row.get(column) for column in columns])
        count += 1
    return count


def write_parquet(run: RunData, columns: list[str], target: Path) -> int:
    """A column a key; rows that did not log a key hold null there."""
    try:  # through importlib: pyarrow ships no type information
        pa: Any = importlib.import_module("pyarrow")
        pq: Any = importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise UsageError(
            "parquet export needs pyarrow: pip install pyarrow (or use --format csv)"
        ) from None
    types = _column_types(pa, run, columns)
    schema = pa.schema([(column, types[column]) for column in columns])
    count = 0
    with pq.ParquetWriter(target, schema) as writer:
        for batch in _batches(run):
            arrays = [pa.array([r.get(c) for r in batch], type=types[c]) for c in columns]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            count += len(batch)
    return count


def _batches(run: RunData) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in run.iter_rows():
        batch.append(row)
        if len(batch) == PARQUET_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _column_types(pa: Any, run: RunData, columns: list[str]) -> dict[str, Any]:
    """Each column's Arrow type, settled over every batch (ints and floats make floats)."""
    types: dict[str, Any] = dict.fromkeys(columns, pa.null())
    for batch in _batches(run):
        for column in columns:
            try:
                found = pa.array([row.get(column) for row in batch]).type
                types[column] = _wider(pa, types[column], found)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
                raise UsageError(
                    f"column {column!r} mixes types parquet cannot hold in one column "
                    f"({exc}); export it with --format csv instead"
                ) from exc
    return types


def _wider(pa: Any, known: Any, found: Any) -> Any:
    if known == found or found == pa.null():
        return known
    if known == pa.null():
        return found
    numbers = (pa.int64(), pa.float64())
    if known in numbers and found in numbers:
        return pa.float64()
    raise TypeError(f"{known} in some rows, {found} in others")
