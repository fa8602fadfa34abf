"""Run settings: arguments, then ``TETHER_*`` environment variables, then the directory's
``tether/settings.json`` (``tether online|offline|disabled``), then defaults.

The environment variables are those of the table in ``_env_vars.py`` (every ``TETHER_*``
variable is named there once). Values are read when ``init()`` runs, never at import, and a
bad value raises naming the variable and the accepted values.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import msgspec

from tether import _env_vars
from tether._client_config import ClientConfig, directory_mode, load_client_config
from tether._env_vars import Variable
from tether.errors import UsageError

MODES: Final = ("online", "offline", "disabled")
RESUME_MODES: Final = ("allow", "must", "never")
CONSOLE_MODES: Final = ("wrap", "fd", "off")
DEFAULT_PROJECT: Final = "default"
DEFAULT_SYSTEM_INTERVAL_S: Final = 10.0


class Settings(msgspec.Struct, frozen=True):
    project: str
    name: str | None
    root: Path
    mode: str
    group: str | None
    job_type: str | None
    tags: tuple[str, ...]
    notes: str | None
    run_id: str | None
    resume: str | None
    console: str
    writer_label: str | None
    # The server and key of an online run (None offline).
    client: ClientConfig | None = None
    # Seconds between system-metrics samples; 0: no sampler.
    system_interval_s: float = DEFAULT_SYSTEM_INTERVAL_S

    @property
    def runs_dir(self) -> Path:
        """Where run directories live: ``<dir>/tether``."""
        return self.root / "tether"


def _choice(
    value: str | None, variable: Variable | None, allowed: tuple[str, ...], arg: str
) -> str | None:
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered not in allowed:
        source = (
            f"argument {arg}=" if variable is None else f"environment variable {variable.name}="
        )
        raise UsageError(
            f"tether.init(): {source}{value!r} is not one of {', '.join(allowed)}; "
            f"pick one of those"
        )
    return lowered


def resolve(
    *,
    project: str | None,
    name: str | None,
    dir: str | os.PathLike[str] | None,
    mode: str | None,
    group: str | None,
    job_type: str | None,
    tags: list[str] | tuple[str, ...] | None,
    notes: str | None,
    id: str | None,
    resume: str | bool | None,
    console: str | None,
    writer_label: str | None = None,
    system: bool | float | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Combine arguments and environment; arguments win."""
    env = os.environ if environ is None else environ

    def read(variable: Variable) -> str | None:
        return _env_vars.get(variable, env)

    root = Path(dir) if dir is not None else Path(read(_env_vars.DIR) or os.getcwd())
    root = root.expanduser().absolute()
    mode_value = _choice(mode, None, MODES, "mode") if mode is not None else None
    if mode_value is None:
        mode_value = _choice(read(_env_vars.MODE), _env_vars.MODE, MODES, "mode")
    client = load_client_config(env) if mode_value != "disabled" else None
    if mode_value is None:
        mode_value, _ = default_mode(root, has_key=client is not None)
    if mode_value == "online" and client is None:
        raise UsageError(
            "tether.init(mode='online') needs a server and an API key: run "
            "`tether login --host URL KEY`, or set TETHER_BASE_URL and TETHER_API_KEY; "
            "or use mode='offline' and `tether sync` later"
        )
    if resume is True:
        resume = "allow"
    elif resume is False:
        resume = None
    resume_value = (
        _choice(resume, None, RESUME_MODES, "resume")
        if resume is not None
        else _choice(read(_env_vars.RESUME), _env_vars.RESUME, RESUME_MODES, "resume")
    )
    console_value = (
        _choice(console, None, CONSOLE_MODES, "console")
        if console is not None
        else _choice(read(_env_vars.CONSOLE), _env_vars.CONSOLE, CONSOLE_MODES, "console")
    )
    tag_values: tuple[str, ...]
    if tags is not None:
        if isinstance(tags, str):
            raise UsageError(f"tether.init(): tags must be a list of strings, not {tags!r}")
        tag_values = tuple(str(t) for t in tags)
    else:
        raw = read(_env_vars.TAGS) or ""
        tag_values = tuple(t.strip() for t in raw.split(",") if t.strip())
    run_id = id if id is not None else read(_env_vars.RUN_ID)
    if run_id is not None:
        _check_run_id(run_id)
    return Settings(
        project=project or read(_env_vars.PROJECT) or DEFAULT_PROJECT,
        name=name or read(_env_vars.NAME),
        root=root,
        mode=mode_value or "offline",
        group=group or read(_env_vars.GROUP),
        job_type=job_type or read(_env_vars.JOB_TYPE),
        tags=tag_values,
        notes=notes if notes is not None else read(_env_vars.NOTES),
        run_id=run_id,
        resume=resume_value,
        console=console_value or "wrap",
        writer_label=writer_label or read(_env_vars.WRITER_LABEL),
        client=client if mode_value == "online" else None,
        system_interval_s=_system_interval(system, read(_env_vars.SYSTEM_INTERVAL_S)),
    )


def _system_interval(system: object, raw: str | None) -> float:
    """Seconds between system samples from ``init(system=...)``, then the environment."""
    if system is None:
        if raw is None or raw.strip() == "":
            return DEFAULT_SYSTEM_INTERVAL_S
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < 0:
            raise UsageError(
                f"tether.init(): environment variable {_env_vars.SYSTEM_INTERVAL_S.name}={raw!r} "
                f"is not a number of seconds >= 0; set it to e.g. "
                f"{DEFAULT_SYSTEM_INTERVAL_S:g}, or 0 to turn system metrics off"
            )
        return value
    if system is True:
        return DEFAULT_SYSTEM_INTERVAL_S
    if system is False:
        return 0.0
    if isinstance(system, int | float) and math.isfinite(system) and system >= 0:
        return float(system)
    raise UsageError(
        f"tether.init(): system={system!r} must be True, False or a number of seconds >= 0 "
        f"between samples (default {DEFAULT_SYSTEM_INTERVAL_S:g}); pass e.g. system=5.0, or "
        "system=False to turn system metrics off"
    )


def default_mode(root: Path, *, has_key: bool) -> tuple[str, str]:
    """The mode without an argument or ``TETHER_MODE``, and where it comes from."""
    chosen = directory_mode(root)
    if chosen is not None:
        return chosen, str(root / "tether" / "settings.json")
    if has_key:
        return "online", "an API key is configured"
    return "offline", "no API key configured"


def _check_run_id(run_id: str) -> None:
    ok = 0 < len(run_id) <= 64 and all(c.isalnum() or c in "-_" for c in run_id)
    if not ok:
        raise UsageError(
            f"tether.init(): run id {run_id!r} must be 1-64 letters, digits, '-' or '_'"
        )
