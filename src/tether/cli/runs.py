"""``tether ls`` and ``tether show``: what runs there are, and what one of them holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from tether.cli.output import (
    STATE_STYLES,
    console,
    dump_json,
    fail,
    fmt_duration,
    fmt_time,
    fmt_value,
)
from tether.errors import TetherError
from tether.store import layout
from tether.store.run_data import RunData, load_run, read_run_dir


def _run_row(run: RunData) -> dict[str, Any]:
    last = run.last_step
    return {
        "id": run.id,
        "name": run.name,
        "project": run.project,
        "state": run.state,
        "steps": 0 if last is None else last + 1,
        "duration": run.duration,
        "start": run.start_time,
        "writers": len(run.writers),
        "dir": str(run.dir),
    }


@click.command("ls")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def ls_command(directory: Path | None, as_json: bool) -> None:
    """List the runs under DIRECTORY (default: the current directory)."""
    base = directory or Path.cwd()
    try:
        runs = [read_run_dir(path) for path in layout.list_run_dirs(base)]
    except TetherError as exc:
        raise fail(exc) from exc
    rows = [_run_row(run) for run in runs]
    if as_json:
        dump_json(rows)
        return
    out = console()
    if not rows:
        out.print(f"No runs under {layout.runs_root(base)}. Start one with tether.init().")
        return
    table = Table(title=f"runs in {layout.runs_root(base)}", title_justify="left")
    for column in ("id", "name", "project", "state", "steps", "duration", "start"):
        table.add_column(column, justify="right" if column == "steps" else "left")
    for row in rows:
        state = row["state"]
        table.add_row(
            row["id"],
            row["name"],
            row["project"],
            f"[{STATE_STYLES.get(state, '')}]{state}[/]",
            str(row["steps"]),
            fmt_duration(row["duration"]),
            fmt_time(row["start"]),
        )
    out.print(table)


def _show_data(run: RunData, lines: int) -> dict[str, Any]:
    # Nothing here decodes the history: row counts, keys and steps come from where the
    # reader located each row block, the summary from each layout's last block.
    writers = run.writers
    return {
        **_run_row(run),
        "group": run.group,
        "job_type": run.job_type,
        "tags": run.tags,
        "notes": run.notes,
        "exit_code": run.exit_code,
        "config": run.config,
        "summary": run.summary,
        "history_keys": run.keys,
        "history_rows": sum(w.rows for w in writers),
        "writers": [
            {
                "label": w.label,
                "pid": w.pid,
                "host": w.host,
                "main": w.main,
                "rows": w.rows,
                "console_lines": w.console_lines,
                "state": w.final_state,
                "torn_bytes": w.torn_bytes,
                "skipped_bytes": w.skipped_bytes,
            }
            for w in writers
        ],
        "console_tail": [
            {"writer": c.writer, "stream": c.stream, "text": c.text, "time": c.time}
            for c in run.console_lines()[-lines:]
        ]
        if lines
        else [],
        "environment": run.environment,
        "system": run.last_system_sample,
    }


@click.command("show")
@click.argument("run_ref", metavar="RUN")
@click.option("--dir", "directory", type=click.Path(path_type=Path), help="Where to look for RUN.")
@click.option("--lines", default=10, show_default=True, help="Console lines to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def show_command(run_ref: str, directory: Path | None, lines: int, as_json: bool) -> None:
    """Show one run: config, summary, history keys, writers, last console lines.

    RUN is a run directory, a run id (or a unique prefix of one), or 'latest'.
    """
    try:
        run = load_run(run_ref, dir=directory)
    except TetherError as exc:
        raise fail(exc) from exc
    data = _show_data(run, lines)
    if as_json:
        dump_json(data)
        return
    out = console()
    state = data["state"]
    out.print(
        f"[bold]{run.name}[/] ({run.id})  project [bold]{run.project}[/]  "
        f"[{STATE_STYLES.get(state, '')}]{state}[/]  {data['steps']} steps  "
        f"{fmt_duration(run.duration)}  started {fmt_time(run.start_time)}"
    )
    out.print(f"[dim]{run.dir}[/]")
    out.print(_mapping_table("config", run.config))
    out.print(_mapping_table("summary", run.summary))
    keys = ", ".join(run.keys) or "-"
    out.print(f"[bold]history keys[/] ({len(run.keys)}): {keys}")
    if data["environment"]:
        out.print(_environment_table(data["environment"]))
    if data["system"]:
        out.print(_system_table(data["system"]))
    writers = Table(title="writers", title_justify="left")
    for column in ("label", "pid", "host", "rows", "console lines", "state"):
        writers.add_column(column)
    for w in data["writers"]:
        writers.add_row(
            w["label"] + (" (main)" if w["main"] else ""),
            str(w["pid"]),
            w["host"],
            str(w["rows"]),
            str(w["console_lines"]),
            w["state"] or "-",
        )
    out.print(writers)
    for w in data["writers"]:
        if w["skipped_bytes"] or w["torn_bytes"]:
            out.print(
                f"[yellow]{w['label']}: {w['skipped_bytes']} damaged bytes skipped mid-file, "
                f"{w['torn_bytes']} torn bytes at the end (the records in them are lost)[/]"
            )
    if data["console_tail"]:
        out.print(f"[bold]last {len(data['console_tail'])} console lines[/]")
        for line in data["console_tail"]:
            style = "red" if line["stream"] == "stderr" else "dim"
            out.print(f"[{style}]{line['writer']:>10}[/] ", end="")
            out.out(line["text"], highlight=False)


def _mapping_table(title: str, mapping: dict[str, Any]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("key")
    table.add_column("value")
    for key, value in sorted(mapping.items()):
        table.add_row(key, fmt_value(value))
    if not mapping:
        table.add_row("-", "-")
    return table


def _environment_table(env: dict[str, Any]) -> Table:
    """What the run ran: python, host, GPUs, torch, git, command (one line each)."""
    table = Table(title="environment", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    python = env.get("python") or {}
    if python:
        table.add_row("python", f"{python.get('version', '?')}  {python.get('executable', '')}")
    machine = env.get("platform") or {}
    cpu = env.get("cpu") or {}
    memory = (env.get("memory") or {}).get("total_bytes")
    if machine:
        parts = [machine.get("hostname"), machine.get("system"), machine.get("machine")]
        parts += [cpu.get("model"), f"{cpu.get('count')} CPUs" if cpu.get("count") else None]
        parts.append(_bytes(memory) if memory else None)
        table.add_row("host", "  ".join(str(p) for p in parts if p))
    gpu = env.get("gpu")
    if gpu is not None:
        table.add_row("GPU", _gpu_line(gpu))
    torch = env.get("torch")
    if torch:
        cuda = torch.get("cuda_version")
        available = {True: "CUDA available", False: "no CUDA"}.get(torch.get("cuda_available"))
        line = f"{torch.get('version')}" + (f"  CUDA {cuda}" if cuda else "")
        table.add_row("torch", line + (f"  ({available})" if available else ""))
    git = env.get("git")
    if git:
        commit = git.get("commit") or "no commit"
        dirty = git.get("dirty")
        state = " [yellow]dirty[/]" if dirty else (" clean" if dirty is False else "")
        branch = f" ({git['branch']})" if git.get("branch") else ""
        table.add_row("git", f"{commit}{branch}{state}  {git.get('remote') or git.get('root')}")
    command = env.get("command") or {}
    if command.get("argv"):
        table.add_row("command", " ".join(str(arg) for arg in command["argv"]))
        table.add_row("cwd", str(command.get("cwd", "")))
    packages = env.get("packages")
    if packages:
        table.add_row("packages", f"{len(packages)} installed (tether show --json lists them)")
    return table


def _gpu_line(gpu: dict[str, Any]) -> str:
    devices = gpu.get("devices") or []
    if not devices:
        return "none"
    names: dict[str, int] = {}
    for device in devices:
        label = str(device.get("name", "?"))
        if device.get("memory_total_bytes"):
            label += f" {_bytes(device['memory_total_bytes'])}"
        names[label] = names.get(label, 0) + 1
    line = ", ".join(f"{count} x {label}" for label, count in names.items())
    for key, title in (("driver_version", "driver"), ("cuda_version", "CUDA")):
        if gpu.get(key):
            line += f"  {title} {gpu[key]}"
    return line


def _system_table(sample: dict[str, Any]) -> Table:
    """The newest system sample, one row per metric family (proc, host, gpu.N)."""
    title = f"system (latest sample, {sample['_writer']}, {fmt_time(sample['_time'])})"
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("family", style="bold")
    table.add_column("metrics")
    families: dict[str, list[str]] = {}
    for key, value in sample.items():
        if key.startswith("_"):
            continue
        family, _, name = key.rpartition(".")
        families.setdefault(family, []).append(f"{name} {_metric(name, value)}")
    for family, metrics in families.items():
        table.add_row(family, "  ".join(metrics))
    return table


def _metric(name: str, value: Any) -> str:
    if not isinstance(value, int | float):
        return str(value)
    if name.endswith("_bps"):
        return f"{_bytes(value)}/s"
    if name.endswith("_bytes"):
        return _bytes(value)
    if name.endswith("_percent"):
        return f"{value:.1f}%"
    return f"{value:g}"


def _bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
