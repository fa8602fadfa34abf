"""The fault-injection harness (bench/reliability.py) as a test: its `ci` profile's kill -9 and
bad-input families, run for real, must lose no acknowledged row and no good row."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[1] / "bench" / "reliability.py"


def test_kill9_and_bad_inputs_lose_nothing_acknowledged(tmp_path: Path) -> None:
    figures_path = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, str(HARNESS), "--profile", "ci", "--only", "kill9,bad",
         "--json", str(figures_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    families = json.loads(figures_path.read_text())["families"]
    for name in ("kill9", "bad"):
        family = families[name]
        assert family["trials"] > 0 and family["acked"] > 0, family
        assert family["lost"] == 0, f"{name}: acknowledged rows lost: {family['problems']}"
        assert family["duplicated"] == 0, f"{name}: rows read twice: {family['problems']}"
    # A bad input is refused or stored; either way every good row logged around it is read back.
    bad = families["bad"]
    assert bad["good_rows_missing"] == 0, bad["problems"]
