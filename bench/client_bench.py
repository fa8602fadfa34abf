"""Client-side cost of tether next to wandb (offline) and MLflow (local sqlite store).

    python bench/client_bench.py            # full run (~8 min), rewrites RESULTS.md's section
    python bench/client_bench.py --quick    # small sizes, prints the tables only

Every measurement runs in a fresh child process (``--child``) or a ``python -c`` snippet, in
a fresh temporary directory, so imports, memory and threads of one tracker never affect
another. Whole-process timings are repeated and the median is reported.

Scenarios: (a) import time, (b) a whole process that inits, logs one step and finishes,
(c) the cost of one ``log()`` of 10 floats, (d) sustained points per second, (e) bytes on
disk per point, (f) peak RSS during (d), (g) extra processes started while logging.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import (
    KEYS,
    ChildError,
    check,
    child_env,
    dir_bytes,
    fmt_num,
    fmt_ratio,
    installed,
    machine_lines,
    make_row,
    max_rss_mib,
    median,
    run_child,
    scratch,
    table,
    update_section,
    wandb_history,
    wandb_run_files,
    write_result,
)

SCRIPT = Path(__file__).resolve()
SECTION = "client_bench"

# Targets for tether's own figures.
TARGET_IMPORT_MS = 50.0
TARGET_WHOLE_MS = 250.0
TARGET_LOG_US = 5.0
TARGET_POINTS_S = 1_000_000.0
TARGET_BYTES_POINT = 16.0

LABELS = {
    "tether": "tether",
    "wandb": "wandb (offline)",
    "mlflow_sync": "MLflow (sqlite, sync)",
    "mlflow_async": "MLflow (sqlite, synchronous=False)",
}


# ============================================================================================
# Child side: one tracker per process
# ============================================================================================
class Session:
    """One tracker's run in this (child) process. Subclasses keep their hot loops tight."""

    name = ""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp

    def start(self) -> None:
        raise NotImplementedError

    def log_rows(self, rows: list[dict[str, float]], first_step: int) -> None:
        raise NotImplementedError

    def log_steps(self, steps: int) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError

    def disk_bytes(self) -> int:
        raise NotImplementedError

    def rows_on_disk(self, expected: int) -> tuple[int, list[str]]:
        """(rows found, problems): reads the run back from disk after finish."""
        raise NotImplementedError


class TetherSession(Session):
    name = "tether"

    def start(self) -> None:
        import tether

        self.tether = tether
        self.run = tether.init(project="bench", dir=self.tmp, console="off")

    def log_rows(self, rows: list[dict[str, float]], first_step: int) -> None:
        log = self.run.log
        for row in rows:
            log(row)

    def log_steps(self, steps: int) -> None:
        log = self.run.log
        for i in range(steps):
            log(make_row(i))

    def finish(self) -> None:
        self.run.finish()

    def disk_bytes(self) -> int:
        return dir_bytes(self.run.dir)

    def rows_on_disk(self, expected: int) -> tuple[int, list[str]]:
        data = self.tether.load_run(str(self.run.dir))
        history = data.rows()
        problems: list[str] = []
        if len(history) != expected:
            problems.append(f"{len(history)} rows read back, {expected} logged")
        steps = sorted(row["_step"] for row in history)
        if steps != list(range(expected)):
            problems.append("the steps read back are not exactly 0..N-1")
        bad = 0
        for row in history:
            want = make_row(row["_step"])
            if any(row.get(key) != value for key, value in want.items()):
                bad += 1
        if bad:
            problems.append(f"{bad} rows read back with wrong values")
        if data.state != "finished":
            problems.append(f"run state is {data.state!r}, not 'finished'")
        return len(history), problems


class WandbSession(Session):
    name = "wandb"

    def start(self) -> None:
        import wandb

        self.wandb = wandb
        self.run = wandb.init(
            project="bench", dir=str(self.tmp), settings=wandb.Settings(console="off")
        )
        self.run_dir = Path(self.run.dir).parent

    def log_rows(self, rows: list[dict[str, float]], first_step: int) -> None:
        log = self.run.log
        for row in rows:
            log(row)

    def log_steps(self, steps: int) -> None:
        log = self.run.log
        for i in range(steps):
            log(make_row(i))

    def finish(self) -> None:
        self.run.finish()

    def disk_bytes(self) -> int:
        self.wandb.teardown()  # the service has written and closed everything
        return dir_bytes(self.run_dir)

    def rows_on_disk(self, expected: int) -> tuple[int, list[str]]:
        files = list(self.run_dir.glob("run-*.wandb"))
        rows = wandb_history(files[0])[0] if files else []
        full = sum(1 for row in rows if all(key in row for key in KEYS))
        problems = [] if full == expected else [f"{full} rows on disk, {expected} logged"]
        return full, problems


class MlflowSession(Session):
    synchronous = True

    def start(self) -> None:
        import mlflow

        self.mlflow = mlflow
        self.db = self.tmp / "mlflow.db"
        mlflow.set_tracking_uri(f"sqlite:///{self.db}")
        self.active = mlflow.start_run()
        self.db_before = self._db_size()

    def _db_size(self) -> int:
        return sum(
            p.stat().st_size for p in self.tmp.glob("mlflow.db*") if p.is_file()
        )  # mlflow.db, -wal, -shm, -journal

    def log_rows(self, rows: list[dict[str, float]], first_step: int) -> None:
        log_metrics = self.mlflow.log_metrics
        sync = self.synchronous
        for step, row in enumerate(rows, first_step):
            log_metrics(row, step=step, synchronous=sync)

    def log_steps(self, steps: int) -> None:
        log_metrics = self.mlflow.log_metrics
        sync = self.synchronous
        for i in range(steps):
            log_metrics(make_row(i), step=i, synchronous=sync)

    def finish(self) -> None:
        self.mlflow.end_run()

    def disk_bytes(self) -> int:
        return self._db_size() - self.db_before

    def rows_on_disk(self, expected: int) -> tuple[int, list[str]]:
        import sqlite3

        with sqlite3.connect(self.db) as db:
            (points,) = db.execute(
                "select count(*) from metrics where run_uuid = ?", (self.active.info.run_id,)
            ).fetchone()
        rows = points // len(KEYS)
        problems = [] if rows == expected else [f"{points} points on disk, {expected * 10} logged"]
        return rows, problems


class MlflowAsyncSession(MlflowSession):
    synchronous = False


SESSIONS: dict[str, type[Session]] = {
    "tether": TetherSession,
    "wandb": WandbSession,
    "mlflow_sync": MlflowSession,
    "mlflow_async": MlflowAsyncSession,
}


def _helpers(proc: Any) -> tuple[int, float, list[str]]:
    """(child processes, their total RSS in MiB, their names) of this process right now."""
    count, rss, names = 0, 0.0, []
    for child in proc.children(recursive=True):
        try:
            rss += child.memory_info().rss / 2**20
            names.append(child.name())
            count += 1
        except Exception:
            continue
    return count, rss, names


def child_log_calls(spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """(c) + (g): log() cost per call, median over chunks; processes and threads meanwhile."""
    import psutil

    proc = psutil.Process()
    kids_before = _helpers(proc)[0]
    threads_before = proc.num_threads()
    session = SESSIONS[spec["tracker"]](tmp)
    session.start()
    calls, chunk = spec["calls"], spec["chunk"]
    per_call_us: list[float] = []
    kids, helper_rss, threads = 0, 0.0, 0
    names: set[str] = set()
    clock = time.perf_counter
    for first in range(0, calls, chunk):
        rows = [make_row(i) for i in range(first, first + chunk)]
        start = clock()
        session.log_rows(rows, first)
        per_call_us.append((clock() - start) / chunk * 1e6)
        count, rss, found = _helpers(proc)  # sampled between chunks, outside the timing
        kids, helper_rss = max(kids, count), max(helper_rss, rss)
        names.update(found)
        threads = max(threads, proc.num_threads())
    result: dict[str, Any] = {
        "per_call_us": per_call_us,
        "extra_processes": kids - kids_before,
        "process_names": sorted(names),
        "extra_threads": threads - threads_before,
        "helper_rss_mib": helper_rss,
    }
    if spec.get("skip_finish"):
        # MLflow async: draining its queue into sqlite takes ~10 ms per step, which is not
        # what this scenario measures (see the sustained scenario for that).
        result["finish_s"] = None
        result["rows_ok"] = None
        return result
    start = clock()
    session.finish()
    result["finish_s"] = clock() - start
    rows, problems = session.rows_on_disk(calls)
    result["rows_on_disk"] = rows
    result["problems"] = problems
    return result


def child_sustained(spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """(d) + (e) + (f): steps x 10 keys as fast as possible, finish included."""
    session = SESSIONS[spec["tracker"]](tmp)
    session.start()
    rss_after_init = max_rss_mib()
    steps = spec["steps"]
    clock = time.perf_counter
    start = clock()
    session.log_steps(steps)
    logged = clock()
    session.finish()
    end = clock()
    peak_rss = max_rss_mib()
    disk = session.disk_bytes()
    rows, problems = session.rows_on_disk(steps)
    return {
        "log_s": logged - start,
        "finish_s": end - logged,
        "elapsed_s": end - start,
        "points": steps * len(KEYS),
        "rss_after_init_mib": rss_after_init,
        "peak_rss_mib": peak_rss,
        "disk_bytes": disk,
        "rows_on_disk": rows,
        "problems": problems,
    }


def child_main(spec_json: str, result_path: str) -> None:
    spec = json.loads(spec_json)
    tmp = Path.cwd()
    kind = spec["scenario"]
    if kind == "log_calls":
        result = child_log_calls(spec, tmp)
    elif kind == "sustained":
        result = child_sustained(spec, tmp)
    else:
        raise SystemExit(f"unknown scenario {kind!r}")
    write_result(result_path, result)
    if spec.get("skip_finish"):
        sys.stdout.flush()
        os._exit(0)


# ============================================================================================
# Parent side
# ============================================================================================
IMPORT_CODE = """\
import time
t0 = time.perf_counter()
{stmt}
t1 = time.perf_counter()
open({out!r}, "w").write(repr([t1 - t0]))
"""

WHOLE_CODE = {
    "tether": """\
import time
t0 = time.perf_counter()
import tether
t1 = time.perf_counter()
run = tether.init(project="bench", dir={dir!r})
t2 = time.perf_counter()
run.log({{"loss": 0.5}})
t3 = time.perf_counter()
run.finish()
t4 = time.perf_counter()
open({out!r}, "w").write(repr([t1 - t0, t2 - t1, t3 - t2, t4 - t3]))
""",
    "wandb": """\
import time
t0 = time.perf_counter()
import wandb
t1 = time.perf_counter()
run = wandb.init(project="bench", dir={dir!r})
t2 = time.perf_counter()
run.log({{"loss": 0.5}})
t3 = time.perf_counter()
run.finish()
t4 = time.perf_counter()
open({out!r}, "w").write(repr([t1 - t0, t2 - t1, t3 - t2, t4 - t3]))
""",
    "mlflow": """\
import time
t0 = time.perf_counter()
import mlflow
t1 = time.perf_counter()
mlflow.start_run()
t2 = time.perf_counter()
mlflow.log_metrics({{"loss": 0.5}}, step=0)
t3 = time.perf_counter()
mlflow.end_run()
t4 = time.perf_counter()
open({out!r}, "w").write(repr([t1 - t0, t2 - t1, t3 - t2, t4 - t3]))
""",
}


def progress(message: str) -> None:
    print(f"[client_bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def timed_snippet(code: str, tmp: Path, timeout: float = 180.0) -> float:
    """Wall seconds of ``python -c code`` run in ``tmp`` (raises if it fails)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp,
        env=child_env(tmp),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).decode(errors="replace")[-2000:]
        raise ChildError(f"snippet exited {proc.returncode}:\n{tail}")
    return wall


class Bench:
    def __init__(self, quick: bool, only: set[str]) -> None:
        self.quick = quick
        self.only = only
        self.peers = [p for p in ("wandb", "mlflow") if installed(p)]
        self.missing = [p for p in ("wandb", "mlflow") if not installed(p)]
        self.results: dict[str, Any] = {}
        self.warnings: list[str] = []
        self.failures: list[str] = []
        self.load_at_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    def trackers(self) -> list[str]:
        names = ["tether"]
        if "wandb" in self.peers:
            names.append("wandb")
        if "mlflow" in self.peers:
            names += ["mlflow_sync", "mlflow_async"]
        return names

    def interleaved(
        self, cases: list[tuple[str, int, dict[str, Any], str]]
    ) -> dict[str, list[tuple[dict[str, Any], float]]]:
        """Run each (tracker, repeats, spec, label) case in fresh children; rounds alternate
        between the trackers so the shared machine's noise falls on all of them alike."""
        done: dict[str, list[tuple[dict[str, Any], float]]] = {key: [] for key, *_ in cases}
        for round_ in range(max(reps for _, reps, _, _ in cases)):
            for key, reps, spec, label in cases:
                if round_ >= reps:
                    continue
                progress(f"{label} [{round_ + 1}/{reps}]")
                with scratch(spec["scenario"]) as tmp:
                    try:
                        done[key].append(run_child(SCRIPT, spec, tmp, timeout=500))
                    except ChildError as exc:
                        self.failures.append(f"{label}: {exc}")
        return done

    # -- warm-up ----------------------------------------------------------------------------
    def warm_up(self) -> None:
        """One untimed whole process per tracker: fills the bytecode cache the children use."""
        progress("warm-up: one untimed process per tracker (bytecode caches)")
        for tracker in ("tether", *self.peers):
            with scratch("warmup") as tmp:
                code = WHOLE_CODE[tracker].format(dir=str(tmp), out=str(tmp / "t.txt"))
                timed_snippet(code, tmp, timeout=600)
                timed_snippet(f"import {tracker}", tmp)

    # -- (a) import -----------------------------------------------------------------------
    def bench_import(self) -> None:
        rounds = 2 if self.quick else 9
        modules = ["", "tether", *self.peers]
        walls: dict[str, list[float]] = {m: [] for m in modules}
        inproc: dict[str, list[float]] = {m: [] for m in modules}
        progress(f"(a) import time: {rounds} rounds of {', '.join(m or 'bare' for m in modules)}")
        with scratch("import") as tmp:
            for _ in range(rounds):
                for module in modules:  # interleaved, so machine noise hits all alike
                    out = tmp / "t.txt"
                    stmt = f"import {module}" if module else "pass"
                    walls[module].append(
                        timed_snippet(IMPORT_CODE.format(stmt=stmt, out=str(out)), tmp)
                    )
                    inproc[module].append(eval(out.read_text())[0])
        self.results["import"] = {
            m: {
                "wall_ms": median(walls[m]) * 1e3,
                "inproc_ms": median(inproc[m]) * 1e3,
                "inproc_min_ms": min(inproc[m]) * 1e3,
            }
            for m in modules
        }
        self.results["import_rounds"] = rounds

    # -- (b) whole process ----------------------------------------------------------------
    def bench_whole(self) -> None:
        variants = {"tether": 5}
        if "wandb" in self.peers:
            variants["wandb"] = 5
        if "mlflow" in self.peers:  # ~5-15 s a process: fewer of them
            variants.update({"mlflow_new_db": 3, "mlflow_existing_db": 3})
        if self.quick:
            variants = dict.fromkeys(variants, 2)
        walls: dict[str, list[float]] = {v: [] for v in variants}
        parts: dict[str, list[list[float]]] = {v: [] for v in variants}
        ok: dict[str, list[bool]] = {v: [] for v in variants}
        progress(f"(b) init + log + finish, whole process: {variants} processes")
        with scratch("whole-template") as template:
            if "mlflow_new_db" in variants:  # an mlflow.db whose tables exist already
                timed_snippet(
                    WHOLE_CODE["mlflow"].format(dir="", out=str(template / "t.txt")), template
                )
            for round_ in range(max(variants.values())):
                for variant, rounds in variants.items():
                    if round_ >= rounds:
                        continue
                    with scratch("whole") as tmp:
                        if variant == "mlflow_existing_db":
                            shutil.copy(template / "mlflow.db", tmp / "mlflow.db")
                        out = tmp / "t.txt"
                        code = WHOLE_CODE[variant.split("_")[0]].format(dir=str(tmp), out=str(out))
                        walls[variant].append(timed_snippet(code, tmp))
                        parts[variant].append(eval(out.read_text()))
                        ok[variant].append(self._whole_ok(variant, tmp))
        self.results["whole"] = {
            v: {
                "wall_ms": median(walls[v]) * 1e3,
                "wall_min_ms": min(walls[v]) * 1e3,
                "parts_ms": [median(p[i] for p in parts[v]) * 1e3 for i in range(4)],
                # per process: wall minus the four timed parts, then the median
                "rest_ms": median(w - sum(p) for w, p in zip(walls[v], parts[v], strict=True))
                * 1e3,
                "processes": len(walls[v]),
                "ok": all(ok[v]),
            }
            for v in variants
        }
        if not self.results["whole"]["tether"]["ok"]:
            self.warnings.append(
                "(b) a tether init-log-finish run did not read back as 1 row, finished"
            )

    def _whole_ok(self, variant: str, tmp: Path) -> bool:
        """Did the one logged step reach the disk?"""
        if variant == "tether":
            import tether

            data = tether.load_run("latest", dir=tmp)
            return data.state == "finished" and [r["loss"] for r in data.rows()] == [0.5]
        if variant == "wandb":
            files = wandb_run_files(tmp)
            return bool(files) and [r.get("loss") for r in wandb_history(files[0])[0]] == ["0.5"]
        import sqlite3

        with sqlite3.connect(tmp / "mlflow.db") as db:
            return db.execute("select count(*) from metrics").fetchone()[0] >= 1

    # -- (c) + (g) log() calls --------------------------------------------------------------
    def bench_log_calls(self) -> None:
        sizes = {  # tracker: (calls, chunk, processes)
            "tether": (20_000, 1_000, 5),
            "wandb": (20_000, 1_000, 3),
            "mlflow_sync": (300, 100, 1),
            "mlflow_async": (5_000, 1_000, 1),
        }
        if self.quick:
            sizes = {
                k: (max(c // 10, 2 * ch // 10), ch // 10, 1) for k, (c, ch, _) in sizes.items()
            }
        cases = []
        for tracker in self.trackers():
            calls, chunk, reps = sizes[tracker]
            spec = {
                "scenario": "log_calls",
                "tracker": tracker,
                "calls": calls,
                "chunk": chunk,
                "skip_finish": tracker == "mlflow_async",
            }
            label = f"(c) log() cost: {tracker}, {calls:,} calls in chunks of {chunk:,}"
            cases.append((tracker, reps, spec, label))
        done = self.interleaved(cases)
        out: dict[str, Any] = {}
        for tracker, pairs in done.items():
            runs = [result for result, _ in pairs]
            if not runs:
                continue
            calls, chunk, _ = sizes[tracker]
            finishes = [r["finish_s"] for r in runs if r["finish_s"] is not None]
            out[tracker] = {
                "calls": calls,
                "chunk": chunk,
                "processes": len(runs),
                "us_median": median(median(r["per_call_us"]) for r in runs),
                "us_min_chunk": min(min(r["per_call_us"]) for r in runs),
                "us_max_chunk": max(max(r["per_call_us"]) for r in runs),
                "finish_s": median(finishes) if finishes else None,
                "extra_processes": max(r["extra_processes"] for r in runs),
                "process_names": sorted({n for r in runs for n in r["process_names"]}),
                "extra_threads": max(r["extra_threads"] for r in runs),
                "helper_rss_mib": max(r["helper_rss_mib"] for r in runs),
                "problems": sorted({p for r in runs for p in r.get("problems", [])}),
            }
            if tracker == "tether" and out[tracker]["problems"]:
                self.warnings += [f"(c) tether: {p}" for p in out[tracker]["problems"]]
        self.results["calls"] = out

    # -- (d) + (e) + (f) sustained -----------------------------------------------------------
    def bench_sustained(self) -> None:
        sizes = {  # tracker: (steps, processes)
            "tether": (200_000, 5),
            "wandb": (100_000, 1),  # ~1-2 min at its rate here
            "mlflow_sync": (300, 1),
            "mlflow_async": (1_000, 1),
        }
        if self.quick:
            sizes = {k: (max(s // 20, 50), 1) for k, (s, _) in sizes.items()}
        cases = []
        for tracker in self.trackers():
            steps, reps = sizes[tracker]
            spec = {"scenario": "sustained", "tracker": tracker, "steps": steps}
            cases.append((tracker, reps, spec, f"(d) sustained: {tracker}, {steps:,} steps x 10"))
        done = self.interleaved(cases)
        out: dict[str, Any] = {}
        for tracker, pairs in done.items():
            runs = [result for result, _ in pairs]
            walls = [wall for _, wall in pairs]
            if not runs:
                continue
            steps, _ = sizes[tracker]
            points = runs[0]["points"]
            out[tracker] = {
                "steps": steps,
                "processes": len(runs),
                "points_s": median(points / r["elapsed_s"] for r in runs),
                "points_s_best": max(points / r["elapsed_s"] for r in runs),
                "elapsed_s": median(r["elapsed_s"] for r in runs),
                "log_s": median(r["log_s"] for r in runs),
                "finish_s": median(r["finish_s"] for r in runs),
                "process_wall_s": median(walls),
                "bytes_point": median(r["disk_bytes"] / points for r in runs),
                "peak_rss_mib": median(r["peak_rss_mib"] for r in runs),
                "rss_after_init_mib": median(r["rss_after_init_mib"] for r in runs),
                "problems": sorted({p for r in runs for p in r["problems"]}),
            }
            if tracker == "tether" and out[tracker]["problems"]:
                self.warnings += [f"(d) tether: {p}" for p in out[tracker]["problems"]]
        self.results["sustained"] = out

    # -- report ---------------------------------------------------------------------------
    def markdown(self, argv: list[str]) -> str:
        r = self.results
        parts = [
            "## Client overhead (`bench/client_bench.py`)",
            "",
            machine_lines(SCRIPT.name, argv, self.load_at_start),
        ]
        if self.missing:
            parts.append(f"\nNot installed, so not measured: {', '.join(self.missing)}.")
        parts += [
            "",
            "\"vs tether\" is the peer's figure divided by tether's (x10 on a time means ten "
            "times slower; on points/s, ten times faster).",
        ]
        parts += ["", "### tether against its targets", "", self._targets_table()]
        if self.warnings:
            parts += ["", "**Warnings**", ""] + [f"- WARNING: {w}" for w in self.warnings]
        if self.failures:
            parts += ["", "**Failed measurements**", ""]
            parts += ["- " + f.replace("\n", " ")[:600] for f in self.failures]
        if "import" in r:
            parts += ["", self._import_table()]
        if "whole" in r:
            parts += ["", self._whole_table()]
        if "calls" in r:
            parts += ["", self._calls_table(), "", self._procs_table()]
        if "sustained" in r:
            parts += ["", self._sustained_table()]
        return "\n".join(parts) + "\n"

    def _targets_table(self) -> str:
        r = self.results
        rows = []
        if "import" in r:
            above = r["import"]["tether"]["wall_ms"] - r["import"][""]["wall_ms"]
            rows.append(
                (
                    "`import tether`, ms above bare Python",
                    f"< {TARGET_IMPORT_MS:.0f}",
                    fmt_num(above),
                    check(above < TARGET_IMPORT_MS),
                    "the import statement alone: median "
                    f"{fmt_num(r['import']['tether']['inproc_ms'])} ms, fastest "
                    f"{fmt_num(r['import']['tether']['inproc_min_ms'])} ms",
                )
            )
        if "whole" in r:
            wall = r["whole"]["tether"]["wall_ms"]
            rows.append(
                (
                    "init + log 1 step + finish, whole process (ms)",
                    f"< {TARGET_WHOLE_MS:.0f}",
                    fmt_num(wall),
                    check(wall < TARGET_WHOLE_MS),
                    f"bare Python: {fmt_num(r['import']['']['wall_ms'])} ms"
                    if "import" in r
                    else "",
                )
            )
        calls = r.get("calls", {}).get("tether")
        if calls:
            us = calls["us_median"]
            rows.append(
                (
                    "`log()` of 10 floats (µs per call, median)",
                    f"≤ {TARGET_LOG_US:.0f}",
                    fmt_num(us),
                    check(us <= TARGET_LOG_US),
                    f"fastest chunk of {calls['chunk']:,} calls: {fmt_num(calls['us_min_chunk'])}",
                )
            )
        sustained = r.get("sustained", {}).get("tether")
        if sustained:
            pts, bpp = sustained["points_s"], sustained["bytes_point"]
            rows.append(
                (
                    f"sustained points/s ({sustained['steps']:,} steps x 10, finish incl.)",
                    "≥ 1,000,000",
                    fmt_num(pts),
                    check(pts >= TARGET_POINTS_S),
                    f"best of {sustained['processes']} processes: "
                    f"{fmt_num(sustained['points_s_best'])}",
                )
            )
            rows.append(
                (
                    "bytes on disk per point",
                    f"≤ {TARGET_BYTES_POINT:.0f}",
                    fmt_num(bpp),
                    check(bpp <= TARGET_BYTES_POINT),
                    "whole run directory",
                )
            )
        if calls:
            extra = calls["extra_processes"]
            rows.append(
                (
                    "extra processes while logging",
                    "0",
                    str(extra),
                    check(extra == 0),
                    f"extra threads: {calls['extra_threads']}",
                )
            )
        if sustained or calls:
            problems = (sustained or {}).get("problems", []) + (calls or {}).get("problems", [])
            rows.append(
                (
                    "every logged row read back from disk (c, d)",
                    "all",
                    "all" if not problems else "; ".join(problems),
                    check(not problems),
                    "steps and values compared",
                )
            )
        return table(("figure", "target", "tether (median)", "met", "context"), rows)

    def _import_table(self) -> str:
        imp = self.results["import"]
        bare = imp[""]["wall_ms"]
        base = imp["tether"]["wall_ms"] - bare
        rows = [("bare `python -c pass`", fmt_num(bare), "0", "-", "-", "-")]
        for module in ("tether", *self.peers):
            above = imp[module]["wall_ms"] - bare
            rows.append(
                (
                    f"`import {module}`",
                    fmt_num(imp[module]["wall_ms"]),
                    fmt_num(above),
                    fmt_num(imp[module]["inproc_ms"]),
                    fmt_num(imp[module]["inproc_min_ms"]),
                    fmt_ratio(above, base),
                )
            )
        return (
            f"### (a) Import time (median of {self.results['import_rounds']} processes each)\n\n"
            + table(
                (
                    "process",
                    "whole process (ms)",
                    "ms above bare Python",
                    "import statement alone (ms)",
                    "fastest import statement",
                    "vs tether (above bare)",
                ),
                rows,
            )
        )

    def _whole_table(self) -> str:
        whole = self.results["whole"]
        base = whole["tether"]["wall_ms"]
        labels = {
            "tether": "tether",
            "wandb": "wandb (offline)",
            "mlflow_new_db": "MLflow (sqlite, new db file)",
            "mlflow_existing_db": "MLflow (sqlite, db exists)",
        }
        rows = []
        for variant, data in whole.items():
            imp, init, log, fin = data["parts_ms"]
            rows.append(
                (
                    labels[variant],
                    str(data["processes"]),
                    fmt_num(data["wall_ms"]),
                    fmt_num(data["wall_min_ms"]),
                    fmt_ratio(data["wall_ms"], base),
                    fmt_num(imp),
                    fmt_num(init),
                    fmt_num(log),
                    fmt_num(fin),
                    fmt_num(data["rest_ms"]),
                    check(data["ok"]),
                )
            )
        return (
            "### (b) One whole process: import, init, log one step, finish "
            "(medians over processes)\n\n"
            "Default settings of each tracker (console capture on for tether and wandb), a fresh "
            "temporary directory per process. 'startup + exit' is the process wall time minus "
            "the four timed parts (interpreter start, atexit hooks, shutdown).\n\n"
            + table(
                (
                    "tracker",
                    "processes",
                    "wall (ms)",
                    "fastest",
                    "vs tether",
                    "import",
                    "init",
                    "log",
                    "finish",
                    "startup + exit",
                    "row on disk",
                ),
                rows,
            )
        )

    def _calls_table(self) -> str:
        calls = self.results["calls"]
        base = calls.get("tether", {}).get("us_median")
        rows = []
        for tracker, d in calls.items():
            rows.append(
                (
                    LABELS[tracker],
                    f"{d['calls']:,} in chunks of {d['chunk']:,} x {d['processes']}",
                    fmt_num(d["us_median"]),
                    f"{fmt_num(d['us_min_chunk'])}-{fmt_num(d['us_max_chunk'])}",
                    fmt_ratio(d["us_median"], base),
                    "skipped (see note)" if d["finish_s"] is None else fmt_num(d["finish_s"] * 1e3),
                )
            )
        return (
            "### (c) `log()` of 10 float scalars: µs per call\n\n"
            "Median over chunks (each chunk's time / its calls) of the median of each process. "
            "Console capture off for tether and wandb; MLflow logs with `log_metrics(..., "
            "step=i)`. The slow MLflow variants log fewer calls, as stated. For MLflow "
            "async the process exits without `end_run()`: draining its queue into sqlite "
            "takes ~10 ms per step and is measured in (d) instead.\n\n"
            + table(
                (
                    "tracker",
                    "calls timed",
                    "µs/call (median)",
                    "chunk range (µs)",
                    "vs tether",
                    "finish() after (ms)",
                ),
                rows,
            )
        )

    def _procs_table(self) -> str:
        calls = self.results["calls"]
        rows = [
            (
                LABELS[t],
                str(d["extra_processes"]),
                ", ".join(d["process_names"]) or "-",
                fmt_num(d["helper_rss_mib"]) if d["extra_processes"] else "-",
                str(d["extra_threads"]),
            )
            for t, d in calls.items()
        ]
        return (
            "### (g) Extra processes and threads while logging (sampled between the chunks of c)"
            "\n\n"
            + table(
                (
                    "tracker",
                    "extra processes",
                    "names",
                    "their RSS (MiB, max)",
                    "extra threads in the process",
                ),
                rows,
            )
        )

    def _sustained_table(self) -> str:
        sus = self.results["sustained"]
        base = sus.get("tether", {})
        rows = []
        for tracker, d in sus.items():
            rows.append(
                (
                    LABELS[tracker],
                    f"{d['steps']:,} x 10 (x{d['processes']})",
                    fmt_num(d["points_s"]),
                    fmt_ratio(d["points_s"], base.get("points_s")),
                    f"{fmt_num(d['log_s'])} + {fmt_num(d['finish_s'])}",
                    fmt_num(d["bytes_point"]),
                    fmt_ratio(d["bytes_point"], base.get("bytes_point")),
                    fmt_num(d["peak_rss_mib"]),
                    fmt_num(d["rss_after_init_mib"]),
                    "all" if not d["problems"] else "; ".join(d["problems"]),
                )
            )
        return (
            "### (d) sustained points/s, (e) bytes on disk per point, (f) peak RSS\n\n"
            "One process logs `steps` rows of 10 floats (each row's dict built in the loop, as "
            "a training loop does) as fast as it can; the time runs from the first `log()` to "
            "the return of `finish()`. Bytes: tether's whole run directory, wandb's whole "
            "offline run directory, MLflow's sqlite file growth. RSS: the logging "
            "process's `VmHWM` (its own peak; `getrusage`'s `ru_maxrss` would include the peak "
            "of the benchmark driver that forked it); wandb's service processes are not "
            "included, see (g). Peers log "
            "fewer steps where they would take minutes, as stated.\n\n"
            + table(
                (
                    "tracker",
                    "steps x keys",
                    "points/s",
                    "vs tether",
                    "log + finish (s)",
                    "bytes/point",
                    "vs tether",
                    "peak RSS (MiB)",
                    "RSS after init (MiB)",
                    "rows read back",
                ),
                rows,
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, smoke test")
    parser.add_argument("--write", action="store_true", help="with --quick: update RESULTS.md")
    parser.add_argument(
        "--only", default="a,b,c,d", help="comma-separated scenarios to run (a,b,c,d; c+g, d+e+f)"
    )
    parser.add_argument("--child", nargs=2, metavar=("SPEC", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(*args.child)
        return
    only = set(args.only.split(","))
    bench = Bench(args.quick, only)
    started = time.perf_counter()
    steps = {
        "a": bench.bench_import,
        "b": bench.bench_whole,
        "c": bench.bench_log_calls,
        "d": bench.bench_sustained,
    }
    bench.warm_up()
    for key, step in steps.items():
        if key in only:
            step()
    argv = sys.argv[1:]
    report = bench.markdown(argv)
    report += f"\nTotal benchmark time: {time.perf_counter() - started:.0f} s.\n"
    print(report)
    if not args.quick or args.write:
        update_section(SECTION, report)
        progress(f"updated the {SECTION} section of bench/RESULTS.md")


if __name__ == "__main__":
    main()
