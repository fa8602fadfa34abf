"""Reading a run back: 10 million points into a DataFrame, and ``tether show`` of that run.

    python bench/read_bench.py             # full run (~3 min once the runs exist), rewrites
                                           # RESULTS.md's read_bench section
    python bench/read_bench.py --quick     # 100k rows, prints the table only
    python bench/read_bench.py --before 79559fa   # also that commit's reader, once

Two runs are written once with the real writer (``tether.init`` + ``log`` in a loop) and
kept under ``bench/_work/read_bench/`` (git-ignored; delete it to write them again):

* ``one_writer``: 1,000,000 rows x 10 float keys from the main process;
* ``eight_writers``: the same 10 million points as 8 writers x 125,000 rows (the main
  process and 7 fork children logging at the same time).

Each measurement is a fresh Python process that has imported tether, numpy and pandas; it
resets its peak RSS (``/proc/self/clear_refs``), then times ``tether.load_run(dir)
.history()`` and reports the wall time and the peak RSS above the RSS it had before (the
raw float64 data is 10M x 8 bytes = 76.3 MiB). ``tether show`` is timed as the whole
command, from ``exec`` to exit (Python start, click and rich included), and in-process
(``load_run`` and what ``show`` prints, without Python's start).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
WORK = BENCH / "_work" / "read_bench"
KEYS = 10
MIB = 1024 * 1024


def _log_rows(run: Any, rows: int, offset: int) -> None:
    names = [f"metric_{j}" for j in range(KEYS)]
    for i in range(rows):
        base = (offset + i) * 1e-3
        run.log({name: base + j for j, name in enumerate(names)})


def _child(run: Any, rows: int, offset: int) -> None:
    import tether

    _log_rows(run, rows, offset)
    tether.flush()


def generate(target: Path, writers: int, rows: int) -> Path:
    """The run at ``target`` (written now unless a finished one is there)."""
    done = target / "done"
    if done.exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    import tether

    per_writer = rows // writers
    run = tether.init(project="read_bench", dir=str(target), console="off", mode="offline")
    fork = multiprocessing.get_context("fork")
    children = [
        fork.Process(target=_child, args=(run, per_writer, n * per_writer))
        for n in range(1, writers)
    ]
    for child in children:
        child.start()
    _log_rows(run, per_writer, 0)
    for child in children:
        child.join(600)
        assert child.exitcode == 0, child.exitcode
    run.finish()
    done.write_text(str(run.dir))
    return target


def _vm(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def measure_frame(run_dir: str) -> dict[str, Any]:
    """In a fresh process: seconds and peak MiB (above the start) of load_run + history()."""
    import gc

    import numpy  # noqa: F401  (imported before the baseline, as a user's notebook has)
    import pandas  # noqa: F401

    import tether
    from tether.store.run_data import RunData  # noqa: F401

    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _vm("VmRSS")
    start = time.perf_counter()
    run = tether.load_run(run_dir)
    frame = run.history() if hasattr(run, "summary") and callable(run.history) else None
    if frame is None:  # the reader before columnar reads (--before): a list, then pandas
        frame = run.history_frame()
    seconds = time.perf_counter() - start
    peak = _vm("VmHWM") - before
    points = int(frame.drop(columns=["_step", "_time", "_writer"]).notna().to_numpy().sum())
    del frame, run
    gc.collect()
    # Read again in the same process: memory the allocator already has (the first read pays
    # for the kernel handing the process fresh pages, slow on a virtual machine).
    start = time.perf_counter()
    again = len(tether.load_run(run_dir).history()) if not os.environ.get("BEFORE") else 0
    warm = time.perf_counter() - start
    return {"seconds": seconds, "peak_mib": peak, "points": points, "warm": warm, "rows": again}


def measure_show_inprocess(run_dir: str) -> dict[str, Any]:
    import tether
    from tether.cli.runs import _show_data

    start = time.perf_counter()
    data = _show_data(tether.load_run(run_dir), 10)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": data["history_rows"], "peak_mib": _vm("VmHWM")}


def measure_export(run_dir: str) -> dict[str, Any]:
    """In a fresh process: ``tether export RUN`` to CSV, its seconds and peak RSS (whole)."""
    import tempfile

    from click.testing import CliRunner

    from tether.cli import cli

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        done = CliRunner().invoke(cli, ["export", run_dir, "-o", f"{tmp}/out.csv"])
        seconds = time.perf_counter() - start
        assert done.exit_code == 0, done.output
        size = Path(f"{tmp}/out.csv").stat().st_size
    return {"seconds": seconds, "peak_mib": _vm("VmHWM"), "csv_mib": size / MIB}


def measure_mlflow(rows_text: str) -> dict[str, Any]:
    """In a fresh process: MLflow's read of the same shape (``rows`` x 10 keys), written once
    with ``log_batch`` into a SQLite store, read with ``get_metric_history`` per key and
    joined into a DataFrame on the step."""
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    rows = int(rows_text)
    target = WORK / f"mlflow_{rows}"
    target.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=f"sqlite:///{target}/mlflow.db")
    done = target / "run_id"
    if not done.exists():
        run = client.create_run(client.create_experiment("read_bench"))
        for start in range(0, rows, 100):
            metrics = [
                Metric(f"metric_{j}", i * 1e-3 + j, 0, i)
                for i in range(start, min(start + 100, rows))
                for j in range(KEYS)
            ]
            client.log_batch(run.info.run_id, metrics=metrics)
        done.write_text(run.info.run_id)
    run_id = done.read_text()
    Path("/proc/self/clear_refs").write_text("5")
    before = _vm("VmRSS")
    start = time.perf_counter()
    columns = []
    for j in range(KEYS):
        history = client.get_metric_history(run_id, f"metric_{j}")
        values = {m.step: m.value for m in history}
        columns.append(pd.Series(values, name=f"metric_{j}"))
    frame = pd.concat(columns, axis=1)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mib": _vm("VmHWM") - before, "points": int(frame.size)}


def _in_child(what: str, run_dir: Path, before: Path | None = None) -> dict[str, Any]:
    env = dict(os.environ)
    if before is not None:  # the reader of an older commit, for comparison
        env.update(PYTHONPATH=str(before / "src"), BEFORE="1")
    out = subprocess.run(
        [sys.executable, __file__, "--child", what, str(run_dir)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        env=env,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _show_command(run_dir: Path | None) -> float:
    """Seconds of ``tether show RUN`` (or of ``tether --version``, the CLI's own start)."""
    tether_cli = Path(sys.executable).with_name("tether")
    command = ["show", str(run_dir)] if run_dir is not None else ["--version"]
    start = time.perf_counter()
    subprocess.run(
        [str(tether_cli), *command],
        capture_output=True,
        timeout=600,
        check=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    return time.perf_counter() - start


def _checkout(commit: str) -> Path:
    """``src/`` of ``commit``, extracted once under bench/_work (git archive: no checkout)."""
    target = WORK / f"before_{commit}"
    if not (target / "src").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(BENCH.parent), "archive", commit, "src"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def run_dir_of(target: Path) -> Path:
    return Path((target / "done").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k rows, prints only")
    parser.add_argument("--write", action="store_true", help="with --quick: update RESULTS.md")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--before", metavar="COMMIT", help="also time this commit's reader once (git archive)"
    )
    parser.add_argument(
        "--mlflow-rows",
        type=int,
        default=0,
        help="also read rows x 10 keys back from MLflow (SQLite store; its writing is slow)",
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, run_dir = args.child
        measures = {
            "frame": measure_frame,
            "show": measure_show_inprocess,
            "mlflow": measure_mlflow,
            "export": measure_export,
        }
        measure = measures[what]
        print(json.dumps(measure(run_dir)))
        return
    from _common import (
        check,
        fmt_num,
        machine_lines,
        median,
        table,
        update_section,
        version_of,
    )

    before = _checkout(args.before) if args.before else None
    rows = 100_000 if args.quick else 1_000_000
    raw_mib = rows * KEYS * 8 / MIB
    shapes = {"one_writer": 1, "eight_writers": 8}
    lines: list[list[str]] = []
    met: list[str] = []
    exports: list[str] = []
    for name, writers in shapes.items():
        generated = time.perf_counter()
        target = generate(WORK / f"{name}_{rows}", writers, rows)
        print(f"{name}: run ready in {time.perf_counter() - generated:.1f} s", file=sys.stderr)
        run_dir = run_dir_of(target)
        size = sum(p.stat().st_size for p in (run_dir / "segments").iterdir()) / MIB
        frames = [_in_child("frame", run_dir) for _ in range(args.repeats)]
        assert all(f["points"] == rows * KEYS for f in frames), frames[0]
        shows = [_in_child("show", run_dir) for _ in range(args.repeats)]
        commands = [_show_command(run_dir) for _ in range(args.repeats)]
        starts = [_show_command(None) for _ in range(args.repeats)]
        seconds = median(f["seconds"] for f in frames)
        peak = median(f["peak_mib"] for f in frames)
        row = [
            f"{writers} x {rows // writers:,} rows",
            f"{size:.0f}",
            fmt_num(seconds * 1000),
            fmt_num(median(f["warm"] for f in frames) * 1000),
            f"{rows * KEYS / seconds / 1e6:.1f}",
            f"{peak:.0f} (x{peak / raw_mib:.2f})",
            fmt_num(median(s["seconds"] for s in shows) * 1000),
            f"{median(s['peak_mib'] for s in shows):.0f}",
            fmt_num(median(commands) * 1000),
            fmt_num(median(starts) * 1000),
        ]
        met.append(
            f"{writers} writer(s): DataFrame in <= 1 s {check(seconds <= 1.0)}, "
            f"peak <= 2x raw {check(peak <= 2 * raw_mib)}, show in-process <= 300 ms "
            f"{check(median(s['seconds'] for s in shows) <= 0.3)}, `tether show` command "
            f"<= 300 ms {check(median(commands) <= 0.3)}"
        )
        exported = _in_child("export", run_dir)
        exports.append(
            f"{writers} x {rows // writers:,} rows: {exported['seconds']:.1f} s for "
            f"{exported['csv_mib']:.0f} MiB of CSV, peak RSS of the whole process "
            f"{exported['peak_mib']:.0f} MiB"
        )
        if before is not None:
            old = _in_child("frame", run_dir, before)
            row.append(
                f"{fmt_num(old['seconds'] * 1000)} ms, {old['peak_mib']:.0f} MiB "
                f"(x{old['seconds'] / seconds:.1f} time, x{old['peak_mib'] / peak:.1f} memory)"
            )
        lines.append(row)
    header = [
        "run (10 float keys)",
        "segments MiB",
        "load_run + history() ms, fresh process",
        "same, read again ms",
        "M points/s (fresh)",
        f"peak MiB above start (x raw {raw_mib:.1f} MiB)",
        "show in-process ms",
        "show peak RSS MiB (whole process)",
        "`tether show` command ms",
        "`tether --version` ms (the CLI's start)",
    ]
    if before is not None:
        header.append(f"before (`{args.before}`: load_run + history_frame(), 1 run)")
    peers = []
    if args.mlflow_rows:
        small = run_dir_of(generate(WORK / f"one_writer_{args.mlflow_rows}", 1, args.mlflow_rows))
        ours = median(_in_child("frame", small)["seconds"] for _ in range(args.repeats))
        theirs = _in_child("mlflow", Path(str(args.mlflow_rows)))
        peers.append(
            f"MLflow {version_of('mlflow')} (SQLite store, `MlflowClient().get_metric_history` "
            f"per key joined into a DataFrame; its `log_batch` is too slow to write 10M points "
            f"here), {args.mlflow_rows:,} rows x 10 keys: {fmt_num(theirs['seconds'] * 1000)} ms, "
            f"peak {theirs['peak_mib']:.0f} MiB; tether, the same shape: "
            f"{fmt_num(ours * 1000)} ms (MLflow x{theirs['seconds'] / ours:.0f}). "
            "wandb is not compared: no public API reads an offline run's history (`wandb.Api()` "
            "reads synced runs from a server)."
        )
    body = "\n\n".join(
        [
            "## Reading a run back (`bench/read_bench.py`)",
            machine_lines("read_bench.py", sys.argv[1:]),
            f"Medians of {args.repeats} fresh processes each; {rows * KEYS:,} points per run. "
            "Targets: history as a DataFrame in <= 1 s with peak memory <= 2x the raw "
            "float64 data; `tether show` <= 300 ms.",
            table(header, lines),
            "Targets met: " + "; ".join(met) + ".",
            *peers,
            "`tether export RUN` (CSV, streamed a block per writer at a time; one run each, "
            "in a fresh process): " + "; ".join(exports) + ".",
            "The first read in a process pays for the pages the kernel hands it (each a fault, "
            "slow on this virtual machine); a second read reuses them. `tether show` as a "
            "command also pays for Python's start and the CLI's imports (the last column): "
            "what `show` itself does (walk every segment, checking every frame's CRC, and "
            "read each layout's last block for the summary) is the in-process column. The "
            "reader before (`load_run` building a dict a row, then `history_frame()`) is "
            "timed once, in a fresh process too.",
        ]
    )
    print(body)
    if not args.quick or args.write:
        update_section("read_bench", body)


if __name__ == "__main__":
    main()
