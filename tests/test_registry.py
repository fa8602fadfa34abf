"""The runs of a process (``tether._registry``): the current-run stack, and what the client
hands the registry instead of lower modules importing it (joining a run, a run that ends)."""

from __future__ import annotations

import os
from pathlib import Path

import tether

from .conftest import run_script


def test_finishing_a_nested_run_makes_the_outer_one_current_and_joinable(run_dir: Path) -> None:
    outer = tether.init(dir=run_dir, console="off", system=False)
    inner = tether.init(dir=run_dir, console="off", system=False)
    assert tether.current_run() is inner
    assert os.environ["TETHER_ATTACH_RUN_DIR"] == str(inner.dir)
    inner.finish()
    # The client's on_forget callback: spawned children now join the run still going.
    assert tether.current_run() is outer
    assert os.environ["TETHER_ATTACH_RUN_DIR"] == str(outer.dir)
    outer.finish()
    assert tether.current_run() is None
    assert "TETHER_ATTACH_RUN_DIR" not in os.environ


PICKLED_INTO_CHILDREN = """
import multiprocessing as mp
import tether


def child(run, answers):
    current = tether.current_run()
    answers.put((type(run).__name__, run.state, run.project, run.name, current is run))


if __name__ == "__main__":
    answers = mp.get_context("spawn").Queue()
    for mode in ("disabled", "offline"):
        run = tether.init(mode=mode, project="proj", name="nm", console="off", system=False)
        proc = mp.get_context("spawn").Process(target=child, args=(run, answers))
        proc.start()
        print(mode, answers.get(timeout=60))
        proc.join(60)
        run.finish()
"""


def test_a_run_pickled_into_a_spawned_child_is_joined_there(run_dir: Path) -> None:
    # Run.__reduce__ carries the client's join function by reference: the child imports the
    # client when it unpickles the run, although _run.py never imports it.
    out = run_script(run_dir, PICKLED_INTO_CHILDREN).stdout.splitlines()
    assert out == [
        "disabled ('DisabledRun', 'disabled', 'proj', 'nm', True)",
        "offline ('Run', 'running', 'proj', 'nm', True)",
    ]
