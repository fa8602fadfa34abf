"""`tether ls`, `show` and `logs`, run as a user runs them: the installed command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import tether


def _tether(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tether.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _make_run(run_dir: Path) -> tether.Run:
    run = tether.init("proj", "cli-run", dir=run_dir, config={"lr": 0.1})
    print("hello from main")
    for i in range(3):
        run.log({"loss": 1.0 / (i + 1)})
    run.finish()
    return run


def test_ls_lists_runs_as_table_and_json(run_dir: Path) -> None:
    run = _make_run(run_dir)
    table = _tether("ls", str(run_dir), cwd=run_dir)
    assert table.returncode == 0, table.stderr
    assert run.id in table.stdout and "finished" in table.stdout
    rows = json.loads(_tether("ls", "--json", cwd=run_dir).stdout)
    assert rows[0]["id"] == run.id and rows[0]["steps"] == 3 and rows[0]["state"] == "finished"


def test_show_gives_config_summary_keys_writers_console(run_dir: Path) -> None:
    run = _make_run(run_dir)
    data = json.loads(_tether("show", run.id, "--json", cwd=run_dir).stdout)
    assert data["config"] == {"lr": 0.1}
    assert data["summary"]["loss"] == 1.0 / 3
    assert data["history_keys"] == ["loss"]
    assert data["writers"][0]["label"] == "main"
    assert data["console_tail"][-1]["text"] == "hello from main"
    text = _tether("show", "latest", cwd=run_dir)
    assert "cli-run" in text.stdout and "hello from main" in text.stdout


def test_logs_prints_lines_filtered_by_writer(run_dir: Path) -> None:
    run = _make_run(run_dir)
    out = _tether("logs", run.id, "--writer", "main", cwd=run_dir)
    assert out.stdout.strip() == "[main] hello from main"
    assert _tether("logs", run.id, "--writer", "rank7", cwd=run_dir).stdout == ""


def test_clear_errors_for_missing_run_and_directory(run_dir: Path) -> None:
    missing = _tether("show", "nosuchrun", cwd=run_dir)
    assert missing.returncode == 1
    assert "no run 'nosuchrun'" in missing.stderr and "Traceback" not in missing.stderr
    nodir = _tether("ls", str(run_dir / "nope"), cwd=run_dir)
    assert nodir.returncode == 1 and "no such directory" in nodir.stderr
    empty = _tether("ls", cwd=run_dir)
    assert empty.returncode == 0 and "No runs" in empty.stdout


def test_each_command_imports_only_its_own_module(run_dir: Path) -> None:
    """`tether show` must not import the server, the uploader or the UI to print a run."""
    _make_run(run_dir)
    probe = (
        "import sys\n"
        "from tether.cli import cli\n"
        "try:\n"
        "    cli(['show', 'latest'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('tether.server', 'tether.sync.uploader', 'tether.cli.ui', 'fastapi')\n"
        "print('LOADED', sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=run_dir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "cli-run" in done.stdout, done.stderr
    assert "LOADED []" in done.stdout, done.stdout


def test_help_lists_every_command(run_dir: Path) -> None:
    from tether.cli import COMMANDS

    listed = _tether("--help", cwd=run_dir)
    assert listed.returncode == 0, listed.stderr
    for name in COMMANDS:
        assert f"  {name} " in listed.stdout, name
        assert _tether(name, "--help", cwd=run_dir).returncode == 0, name
