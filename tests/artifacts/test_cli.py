"""``tether artifact put|ls|get`` as a user runs them (a real CLI process, no key: offline,
the local index), and errors that name the fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "tether.cli", "artifact", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_put_ls_get_offline(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text("x,y\n1,2\n")
    put = _cli(
        tmp_path, "put", "data", "--type", "dataset", "-p", "proj", "--alias", "gold", "--json"
    )
    assert put.returncode == 0, put.stderr
    version = json.loads(put.stdout)
    assert (version["name"], version["version"], version["files"]) == ("data", "v0", 1)

    listed = _cli(tmp_path, "ls", "proj", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (row["name"], row["type"], row["versions"], row["latest"]) == (
        "data",
        "dataset",
        1,
        "v0",
    )
    assert row["aliases"] == {"gold": "v0", "latest": "v0"}
    assert _cli(tmp_path, "ls", "proj", "--type", "model", "--json").stdout.strip() == "[]"

    got = _cli(tmp_path, "get", "proj/data:gold", "out")
    assert got.returncode == 0, got.stderr
    assert Path(got.stdout.strip()) == Path("out")
    assert (tmp_path / "out" / "train.csv").read_text() == "x,y\n1,2\n"

    missing = _cli(tmp_path, "get", "data:v7", "--project", "proj")
    assert missing.returncode == 1
    assert "artifact 'data' has no version 'v7': its versions are v0" in missing.stderr
    no_project = _cli(tmp_path, "get", "data:v0")
    assert no_project.returncode == 1 and "say the project" in no_project.stderr
    bad_path = _cli(tmp_path, "put", "nope", "-p", "proj")
    assert bad_path.returncode == 1 and "'nope' does not exist" in bad_path.stderr
