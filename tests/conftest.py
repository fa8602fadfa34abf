"""Shared test helpers: real Python processes running real scripts, with timeouts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import tether
from tether.server.testing import LiveServer


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A working directory for runs (runs land in ``<run_dir>/tether``)."""
    return tmp_path


@pytest.fixture(autouse=True)
def _no_leaked_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test starts and ends with no active run and no exported run in the env, and
    with a user config directory of its own (no login of the machine's user leaks in)."""
    for key in [k for k in os.environ if k.startswith("TETHER_")]:
        os.environ.pop(key)
    saved_config_home = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config-home"))
    yield
    if saved_config_home is None:
        os.environ.pop("XDG_CONFIG_HOME", None)
    else:
        os.environ["XDG_CONFIG_HOME"] = saved_config_home
    while (run := tether.current_run()) is not None:
        run.finish()
    for key in [k for k in os.environ if k.startswith("TETHER_")]:
        os.environ.pop(key)


def write_script(directory: Path, code: str, name: str = "script.py") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(code))
    return path


def run_script(
    directory: Path,
    code: str,
    *,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    args: list[str] | None = None,
    check: bool = True,
) -> Finished:
    """Run ``code`` as a script in a fresh interpreter, in ``directory``."""
    script = write_script(directory, code)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    full_env["PYTHONUNBUFFERED"] = "1"
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, str(script), *(args or [])],
        cwd=directory,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    result = Finished(proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"script exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    return result


def only_run(directory: Path) -> tether.RunData:
    """The single run under ``directory``."""
    from tether.store import layout

    dirs = layout.list_run_dirs(directory)
    assert len(dirs) == 1, dirs
    return tether.load_run(dirs[0])


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A real ``tether server`` (SQLite) on 127.0.0.1; ``.stop()``/``.start()`` restart it."""
    server = LiveServer(tmp_path / "server-data").start()
    try:
        yield server
    finally:
        server.stop()
