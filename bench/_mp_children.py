"""The child side of ``process_bench.py``: what runs inside the measured processes.

Kept apart from ``process_bench.py`` and light on imports (standard library only at module
level) because ``multiprocessing``'s spawn start method re-imports the main module in every
child it starts: the children measured here should pay for the tracker, not for the
benchmark's own plumbing. Run by ``process_bench.py`` as
``python bench/_mp_children.py --child SPEC RESULT``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

LINE = "step 123 loss 0.5"
RANK_BASE = 10_000_000  # metric_0 = rank * RANK_BASE + step: tells whose row it is


def rank_row(rank: int, step: int) -> dict[str, float]:
    """Like ``_common.make_row``, with metric_0 = rank * RANK_BASE + step."""
    x = step * 1e-3
    return {
        "metric_0": float(rank * RANK_BASE + step),
        "metric_1": x + 1.0,
        "metric_2": x + 2.0,
        "metric_3": x + 3.0,
        "metric_4": x + 4.0,
        "metric_5": x + 5.0,
        "metric_6": x + 6.0,
        "metric_7": x + 7.0,
        "metric_8": x + 8.0,
        "metric_9": x + 9.0,
    }


def start_tracker(tracker: str, tmp: Path, console: str) -> Any:
    """Start a run; ``console`` is "wrap" (capture on) or "off"."""
    if tracker == "tether":
        import tether

        return tether.init(project="bench", dir=tmp, console=console)
    import wandb

    return wandb.init(project="bench", dir=str(tmp), settings=wandb.Settings(console=console))


# -- (a) print ----------------------------------------------------------------------------------
def child_print(spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    tracker, console, prints = spec["tracker"], spec["console"], spec["prints"]
    run = None if tracker == "bare" else start_tracker(tracker, tmp, console)
    line = LINE
    out = sys.stdout
    clock = time.perf_counter
    start = clock()
    for _ in range(prints):
        print(line)
    out.flush()
    printed = clock()
    if run is not None:
        run.finish()
    finished = clock()
    captured = None
    if tracker == "tether" and run is not None:
        import tether

        captured = sum(1 for c in tether.load_run(str(run.dir)).console_lines() if c.text == line)
    elif tracker == "wandb" and run is not None:
        log = Path(run.dir) / "output.log"
        if log.exists():
            captured = sum(1 for text in log.read_text().splitlines() if text == line)
        else:
            captured = 0
    return {
        "ns_per_print": (printed - start) / prints * 1e9,
        "finish_s": finished - printed,
        "captured": captured,
    }


# -- (b) many processes, one run -------------------------------------------------------------
def log_worker(run: Any, rank: int, steps: int, errors: Any) -> None:
    """A child logging ``steps`` rows into the run it was handed."""
    try:
        log = run.log
        for i in range(steps):
            log(rank_row(rank, i))
        errors.put((rank, None))
    except BaseException:
        errors.put((rank, traceback.format_exc(limit=4)[-1200:]))


def wandb_group_worker(tmp: str, rank: int, steps: int, errors: Any) -> None:
    """wandb's documented alternative: one run per process, grouped."""
    try:
        import wandb

        run = wandb.init(
            project="bench",
            group="eight-processes",
            name=f"rank{rank}",
            dir=tmp,
            settings=wandb.Settings(console="off"),
        )
        log = run.log
        for i in range(steps):
            log(rank_row(rank, i))
        run.finish()
        errors.put((rank, None))
    except BaseException:
        errors.put((rank, traceback.format_exc(limit=4)[-1200:]))


def child_multi(spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    tracker, method, procs, steps = spec["tracker"], spec["method"], spec["procs"], spec["steps"]
    context = multiprocessing.get_context("spawn" if method == "group" else method)
    errors = context.Queue()
    os.environ["TETHER_CONSOLE"] = "off"  # children that attach inherit it
    clock = time.perf_counter
    run = None if method == "group" else start_tracker(tracker, tmp, "off")
    start = clock()
    if method == "group":
        workers = [
            context.Process(target=wandb_group_worker, args=(str(tmp), r, steps, errors))
            for r in range(procs)
        ]
    else:
        workers = [
            context.Process(target=log_worker, args=(run, r, steps, errors)) for r in range(procs)
        ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=600)
    if run is not None:
        run.finish()
    elapsed = clock() - start
    raised: dict[int, str] = {}
    reported = 0
    while True:
        try:
            rank, error = errors.get(timeout=0.5)
        except Exception:
            break
        reported += 1
        if error:
            raised[rank] = error
    found = read_rank_rows(tracker, tmp, run)
    expected = {(r, i) for r in range(procs) for i in range(steps)}
    got = set(found["pairs"])
    return {
        "elapsed_s": elapsed,
        "points": procs * steps * len(rank_row(0, 0)),
        "exit_codes": [w.exitcode for w in workers],
        "reported": reported,
        "raised": {str(k): v for k, v in raised.items()},
        "rows_found": len(found["pairs"]),
        "rows_expected": len(expected),
        "rows_missing": len(expected - got),
        "rows_duplicated": len(found["pairs"]) - len(got),
        "rows_incomplete": found["incomplete"],
        "writers": found["writers"],
        "records": found["records"],
    }


def read_rank_rows(tracker: str, tmp: Path, run: Any) -> dict[str, Any]:
    """Every (rank, step) pair on disk, from metric_0 of each complete row."""
    from _common import KEYS, wandb_history, wandb_run_files

    pairs: list[tuple[int, int]] = []
    incomplete = 0
    if tracker == "tether":
        import tether

        data = tether.load_run(str(run.dir))
        rows = data.rows()
        writers = len(data.writers)
    else:
        rows = []
        files = wandb_run_files(tmp)
        for path in files:
            rows += [
                {k: json.loads(v) for k, v in row.items() if k in KEYS}
                for row in wandb_history(path)[0]
            ]
        writers = len(files)
    for row in rows:
        if not all(key in row for key in KEYS):
            incomplete += 1
            continue
        value = int(row["metric_0"])
        pairs.append((value // RANK_BASE, value % RANK_BASE))
    return {"pairs": pairs, "incomplete": incomplete, "writers": writers, "records": len(rows)}


# -- (c) spawn to first row on disk ----------------------------------------------------------
def bare_child(marker: str) -> None:
    Path(marker).write_text("here")


def tether_probe_child(run: Any, probe: int) -> None:
    import tether

    run.log({"probe": probe})
    tether.flush()


def wandb_probe_child(run: Any, probe: int) -> None:
    run.log({"probe": probe})


def child_latency(spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    tracker, reps = spec["tracker"], spec["reps"]
    context = multiprocessing.get_context("spawn")
    run = None if tracker == "bare" else start_tracker(tracker, tmp, "off")
    readable_after_init = None
    if tracker == "tether":
        import tether

        try:
            tether.load_run(str(run.dir))
            readable_after_init = "yes"
        except Exception as exc:
            readable_after_init = f"no: {type(exc).__name__}"
    clock = time.perf_counter
    to_disk: list[float] = []
    to_exit: list[float] = []
    failures: list[str] = []
    for probe in range(reps):
        marker = tmp / f"marker-{probe}"
        if tracker == "bare":
            proc = context.Process(target=bare_child, args=(str(marker),))
        elif tracker == "tether":
            proc = context.Process(target=tether_probe_child, args=(run, probe))
        else:
            proc = context.Process(target=wandb_probe_child, args=(run, probe))
        start = clock()
        proc.start()
        seen = exited = None
        while (seen is None or exited is None) and clock() - start < 60:
            if seen is None and probe_on_disk(tracker, tmp, run, marker, probe):
                seen = clock() - start
            if exited is None and not proc.is_alive():
                exited = clock() - start
            time.sleep(0.002)
        proc.join(timeout=10)
        if seen is None:
            failures.append(f"probe {probe} not on disk within 60 s (exit code {proc.exitcode})")
        else:
            to_disk.append(seen)
            if exited is not None and seen > exited:
                failures.append(
                    f"probe {probe} on disk {seen - exited:.1f} s after the child exited"
                )
        if exited is not None:
            to_exit.append(exited)
    if run is not None:
        run.finish()
    return {
        "to_disk_s": to_disk,
        "to_exit_s": to_exit,
        "failures": failures,
        "readable_after_init": readable_after_init,
    }


def probe_on_disk(tracker: str, tmp: Path, run: Any, marker: Path, probe: int) -> bool:
    from _common import wandb_history, wandb_run_files

    if tracker == "bare":
        return marker.exists()
    if tracker == "tether":
        import tether

        try:
            history = tether.load_run(str(run.dir)).rows()
        except tether.RunNotFoundError:
            return False  # nothing written to the run yet
        return any(row.get("probe") == probe for row in history)
    files = wandb_run_files(tmp)
    if not files:
        return False
    return any(row.get("probe") == str(probe) for row in wandb_history(files[0])[0])


def child_main(spec_json: str, result_path: str) -> None:
    spec = json.loads(spec_json)
    tmp = Path.cwd()
    handlers = {"print": child_print, "multi": child_multi, "latency": child_latency}
    result = handlers[spec["scenario"]](spec, tmp)
    Path(result_path).write_text(json.dumps(result))


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments and arguments[0] == "--child":  # as _common.run_child calls it
        arguments = arguments[1:]
    child_main(*arguments)
