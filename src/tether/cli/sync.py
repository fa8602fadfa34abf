"""``tether sync [PATH ...]``: upload offline, interrupted or crashed runs."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from tether._client_config import load_client_config
from tether.cli.output import STATE_STYLES, dump_json, fail
from tether.errors import TetherError


@click.command("sync")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def sync_command(paths: tuple[Path, ...], quiet: bool, as_json: bool) -> None:
    """Upload the runs under each PATH (a run directory, or a folder holding ./tether).

    Resumes where an earlier upload stopped and never sends a record twice, so it is safe to
    run again. Default PATH: the current directory.
    """
    from tether.sync import sync_paths

    targets = list(paths) or [Path.cwd()]
    try:
        config = load_client_config()
        if config is None:
            raise TetherError(
                "no API key: run `tether login` (or set TETHER_API_KEY), then `tether sync` again"
            )
        report = sync_paths(
            targets,
            base_url=config.base_url,
            api_key=config.api_key,
            progress=not (quiet or as_json),
        )
    except TetherError as exc:
        raise fail(exc) from exc
    retry = "tether sync " + " ".join(str(p) for p in paths) if paths else "tether sync"
    if as_json:
        dump_json(
            {
                "server": config.base_url,
                "ok": report.ok,
                "bytes": report.bytes,
                "records": report.records,
                "duplicates": report.duplicates,
                "runs": [
                    {
                        "dir": str(r.run_dir),
                        "project": r.project,
                        "id": r.run_id,
                        "state": r.state,
                        "bytes": r.bytes,
                        "records": r.records,
                        "duplicates": r.duplicates,
                        "error": r.error,
                        "skipped": [
                            {
                                "writer": writer,
                                "records": skip.records,
                                "bytes": skip.bytes,
                                "reason": skip.reason(),
                            }
                            for writer, skip in r.skipped
                        ],
                    }
                    for r in report.runs
                ],
            }
        )
    else:
        out = _console()
        if not report.runs:
            out.print(f"No runs under {', '.join(map(str, targets))}.")
            return
        table = Table(title=f"sync to {config.base_url}", title_justify="left")
        for column in ("run", "project", "state", "records", "duplicates", "bytes", "result"):
            table.add_column(column, justify="right" if column in ("records", "bytes") else "left")
        for r in report.runs:
            if r.error is not None:
                result = "[red]failed[/]"
            else:
                result = "sent" if r.bytes else "up to date"
            if r.skipped:
                result += f", [yellow]{sum(s.records for _, s in r.skipped):,} skipped[/]"
            table.add_row(
                r.run_id,
                r.project,
                f"[{STATE_STYLES.get(r.state, '')}]{r.state}[/]",
                f"{r.records:,}",
                f"{r.duplicates:,}",
                f"{r.bytes:,}",
                result,
            )
        out.print(table)
        out.print(
            f"{len(report.runs)} run(s): {report.records:,} records sent "
            f"({report.duplicates:,} already on the server), {report.bytes:,} bytes."
        )
        for r in report.runs:
            for line in r.skip_lines():
                out.print(f"[yellow]skipped[/]: {line}")
        for r in report.failed:
            out.print(f"[red]{r.run_id}[/] ({r.run_dir}): {r.error}")
    if not report.ok:
        raise click.ClickException(
            f"{len(report.failed)} run(s) could not be sent completely; the data stays on disk. "
            f"Run `{retry}` again to retry: what was sent is not sent twice."
        )


def _console() -> Console:
    # Long lines (URLs, paths, errors) stay whole when piped or grepped.
    return Console(highlight=False, soft_wrap=True)
