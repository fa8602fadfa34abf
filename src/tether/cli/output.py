"""Shared pieces of CLI output: errors as exit codes, times and durations for people."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import click
from rich.console import Console

from tether.errors import TetherError
from tether.store.states import RunState


def console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def fail(error: TetherError) -> click.ClickException:
    """Turn a tether error into a clean ``Error: ...`` line and exit code 1."""
    return click.ClickException(str(error))


def fmt_time(epoch: float | None) -> str:
    if not epoch:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def fmt_value(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.6g}"
    return str(value)


STATE_STYLES: dict[str, str] = {
    RunState.RUNNING: "bold green",
    RunState.FINISHED: "cyan",
    RunState.FAILED: "bold red",
    RunState.KILLED: "yellow",
    RunState.CRASHED: "bold magenta",
}


def dump_json(data: Any) -> None:
    """JSON on stdout; NaN and infinities written as strings so any parser reads it."""
    click.echo(json.dumps(_jsonable(data), indent=2, allow_nan=False))


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
