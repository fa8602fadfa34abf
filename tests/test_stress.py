"""Many processes logging and printing hard at once: every row and line exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from .conftest import only_run, run_script

STRESS = """
import multiprocessing as mp, sys
import tether

STEPS, KEYS, PROCS = 20_000, 10, 8

def child(run, index):
    for step in range(STEPS):
        run.log({{f"p{{index}}/k{{k}}": step + k for k in range(KEYS)}})
        if step % 100 == 0:
            print(f"proc {{index}} step {{step}}")
            sys.stderr.write(f"proc {{index}} err {{step}}\\n")

if __name__ == "__main__":
    run = tether.init(dir=".")
    ctx = mp.get_context("{method}")
    procs = [ctx.Process(target=child, args=(run, i)) for i in range(PROCS)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(300)
        assert proc.exitcode == 0, proc.exitcode
    run.finish()
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_eight_processes_lose_and_duplicate_nothing(run_dir: Path, method: str) -> None:
    run_script(run_dir, STRESS.format(method=method), timeout=600)
    data = only_run(run_dir)
    rows = data.rows()
    assert len(rows) == 8 * 20_000
    for index in range(8):
        mine = [r for r in rows if f"p{index}/k0" in r]
        assert [r[f"p{index}/k0"] for r in mine] == list(range(20_000))
        assert all(r[f"p{index}/k9"] == r[f"p{index}/k0"] + 9 for r in mine)
        assert len({r["_writer"] for r in mine}) == 1
    lines = Counter((line.stream, line.text) for line in data.console_lines())
    for index in range(8):
        for step in range(0, 20_000, 100):
            assert lines[("stdout", f"proc {index} step {step}")] == 1
            assert lines[("stderr", f"proc {index} err {step}")] == 1
    assert data.state == "finished"
    assert all(w.torn_bytes == 0 for w in data.writers)
