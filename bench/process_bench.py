"""Console capture and multi-process logging: tether next to wandb (offline).

    python bench/process_bench.py            # full run (~8 min), rewrites RESULTS.md's section
    python bench/process_bench.py --quick    # small sizes, prints the tables only

Scenarios, each in fresh child processes and temporary directories:

(a) ``print()`` cost with console capture on and off (stdout redirected to a file);
(b) 8 processes logging into the same run: total points/s, and whether every row arrived;
(c) the time from ``Process.start()`` (spawn) to the child's first row being on disk;
(d) the DataLoader-worker print scenario of wandb/wandb#1815: ``import ipdb``, the tracker,
    ``DataLoader(num_workers=2, worker_init_fn=...)`` whose workers print.

The measured processes run ``_mp_children.py`` (light on imports, since spawn re-imports the
main module in every child); this script starts them and writes the report.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import (
    ChildError,
    check,
    child_env,
    fmt_num,
    fmt_ratio,
    installed,
    machine_lines,
    median,
    run_child,
    scratch,
    table,
    update_section,
)
from _mp_children import LINE

SCRIPT = Path(__file__).resolve()
CHILDREN = SCRIPT.parent / "_mp_children.py"
SECTION = "process_bench"
TARGET_PRINT_RATIO = 1.5
TARGET_MULTI_POINTS_S = 2_000_000.0


def progress(message: str) -> None:
    print(f"[process_bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ============================================================================================
# (d) DataLoader workers that print, with ipdb imported first (wandb/wandb#1815)
# ============================================================================================
DATALOADER_SCRIPT = """\
import os
import sys

import ipdb  # noqa: F401  (imported first, as in the original report)
{tracker_import}
import torch
from torch.utils.data import DataLoader, Dataset


class Numbers(Dataset):
    def __len__(self):
        return 16

    def __getitem__(self, index):
        print(f"getitem {{index}} in pid {{os.getpid()}}")
        return torch.tensor([float(index)])


def worker_init(worker_id):
    print(f"worker_init {{worker_id}} in pid {{os.getpid()}}")


if __name__ == "__main__":
    {init}
    loader = DataLoader(
        Numbers(), batch_size=4, num_workers=2, worker_init_fn=worker_init,
        multiprocessing_context={context!r},
    )
    for epoch in range(2):
        for batch in loader:
            run.log({{"batch_sum": float(batch.sum())}})
    print("LOOP COMPLETED", flush=True)
    run.finish()
    print("FINISHED", flush=True)
"""

DATALOADER_INIT = {
    "tether": ("import tether", "run = tether.init(project='bench', dir=os.getcwd())"),
    "wandb": ("import wandb", "run = wandb.init(project='bench', dir=os.getcwd())"),
}


def dataloader_case(tracker: str, context: str, tmp: Path) -> dict[str, Any]:
    tracker_import, init = DATALOADER_INIT[tracker]
    script = tmp / "dataloader_case.py"
    script.write_text(
        DATALOADER_SCRIPT.format(tracker_import=tracker_import, init=init, context=context)
    )
    stdout, stderr = tmp / "stdout.txt", tmp / "stderr.txt"
    start = time.perf_counter()
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, str(script)],
            cwd=tmp,
            env=child_env(tmp),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        try:
            returncode: int | None = proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)  # our own child's process group, workers included
            proc.wait()
            returncode = None
    wall = time.perf_counter() - start
    out_text = stdout.read_text(errors="replace")
    err_text = stderr.read_text(errors="replace")
    terminal = out_text.splitlines()
    captured: list[str] = []
    if tracker == "tether":
        import tether

        try:
            captured = [line.text for line in tether.load_run("latest", dir=tmp).console_lines()]
        except Exception as exc:
            err_text += f"\n(load_run failed: {exc!r})"
    else:
        for path in tmp.glob("**/offline-run-*/files/output.log"):
            captured += path.read_text(errors="replace").splitlines()
    return {
        "returncode": returncode,
        "wall_s": wall,
        "loop_completed": "LOOP COMPLETED" in terminal,
        "finished": "FINISHED" in terminal,
        "raised": summarize_errors(err_text),
        "terminal_worker_lines": count_worker_lines(terminal),
        "captured_worker_lines": count_worker_lines(captured),
    }


def count_worker_lines(lines: list[str]) -> dict[str, int]:
    return {
        "worker_init": sum(1 for line in lines if line.startswith("worker_init ")),
        "getitem": sum(1 for line in lines if line.startswith("getitem ")),
    }


def summarize_errors(stderr: str) -> list[str]:
    """The distinct exception lines (``SomethingError: ...``) in a stderr text."""
    found: list[str] = []
    for line in stderr.splitlines():
        text = line.strip()
        head = text.split(":", 1)[0]
        is_exception = head.endswith(("Error", "Exception", "Interrupt")) and " " not in head
        if (is_exception or "Traceback" in text or "hang" in text) and text not in found:
            found.append(text[:200])
    return found[:6]


# ============================================================================================
# Parent side
# ============================================================================================
class Bench:
    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.has_wandb = installed("wandb")
        self.results: dict[str, Any] = {}
        self.warnings: list[str] = []
        self.failures: list[str] = []
        self.load_at_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    def child(self, spec: dict[str, Any], timeout: float = 400) -> dict[str, Any] | None:
        with scratch(spec["scenario"]) as tmp:
            try:
                return run_child(CHILDREN, spec, tmp, timeout=timeout, log_path=tmp / "stdout.txt")[
                    0
                ]
            except ChildError as exc:
                self.failures.append(f"{spec}: {exc}")
                return None

    def interleaved(
        self, cases: list[tuple[Any, int, dict[str, Any], str]]
    ) -> dict[Any, list[dict[str, Any]]]:
        """Run each (key, repeats, spec, label) case; rounds alternate between the cases so
        the shared machine's noise falls on all of them alike."""
        done: dict[Any, list[dict[str, Any]]] = {key: [] for key, _, _, _ in cases}
        for round_ in range(max(reps for _, reps, _, _ in cases)):
            for key, reps, spec, label in cases:
                if round_ < reps:
                    progress(f"{label} [{round_ + 1}/{reps}]")
                    result = self.child(spec)
                    if result is not None:
                        done[key].append(result)
        return done

    def warm_up(self) -> None:
        """Untimed runs that fill the bytecode cache the children use."""
        progress("warm-up: one untimed run per tracker (bytecode caches)")
        for tracker in ["tether", *(["wandb"] if self.has_wandb else [])]:
            self.child({"scenario": "print", "tracker": tracker, "console": "wrap", "prints": 10})
            self.child({"scenario": "latency", "tracker": tracker, "reps": 1})

    # -- (a) ----------------------------------------------------------------------------------
    def bench_print(self) -> None:
        prints = 10_000 if self.quick else 100_000
        cases = [("bare", "off", 3), ("tether", "off", 3), ("tether", "wrap", 3)]
        if self.has_wandb:
            # wandb's capture costs ~0.4 ms per print here: one process is ~40 s.
            cases += [("wandb", "off", 3), ("wandb", "wrap", 1)]
        runs = self.interleaved(
            [
                (
                    (tracker, console),
                    1 if self.quick else reps,
                    {"scenario": "print", "tracker": tracker, "console": console, "prints": prints},
                    f"(a) print: {tracker} console={console}, {prints:,} prints",
                )
                for tracker, console, reps in cases
            ]
        )
        out = {
            key: {
                "ns": median(r["ns_per_print"] for r in done),
                "finish_s": median(r["finish_s"] for r in done),
                "captured": [r["captured"] for r in done],
                "reps": len(done),
            }
            for key, done in runs.items()
            if done
        }
        self.results["print"] = {"prints": prints, "cases": out}
        wrap = out.get(("tether", "wrap"))
        if wrap and any(c != prints for c in wrap["captured"]):
            self.warnings.append(
                f"(a) tether captured {wrap['captured']} of {prints:,} printed lines"
            )

    # -- (b) ----------------------------------------------------------------------------------
    def bench_multi(self) -> None:
        procs = 8
        tether_steps = 5_000 if self.quick else 50_000
        wandb_steps = 200 if self.quick else 2_000
        cases = [("tether", "spawn", tether_steps, 3), ("tether", "fork", tether_steps, 3)]
        if self.has_wandb:
            cases += [
                ("wandb", "spawn", wandb_steps, 1),
                ("wandb", "fork", wandb_steps, 1),
                ("wandb", "group", wandb_steps, 1),
            ]
        runs = self.interleaved(
            [
                (
                    (tracker, method, steps),
                    1 if self.quick else reps,
                    {
                        "scenario": "multi",
                        "tracker": tracker,
                        "method": method,
                        "procs": procs,
                        "steps": steps,
                    },
                    f"(b) {procs} processes: {tracker} {method}, {steps:,} steps each",
                )
                for tracker, method, steps, reps in cases
            ]
        )
        out = []
        for (tracker, method, steps), done in runs.items():
            if not done:
                continue
            lost = max(r["rows_missing"] for r in done)
            raised = {v.strip().splitlines()[-1] for r in done for v in r["raised"].values()}
            out.append(
                {
                    "tracker": tracker,
                    "method": method,
                    "procs": procs,
                    "steps": steps,
                    "reps": len(done),
                    "points_s": median(r["points"] / r["elapsed_s"] for r in done),
                    "elapsed_s": median(r["elapsed_s"] for r in done),
                    "rows_expected": done[0]["rows_expected"],
                    "rows_missing": lost,
                    "rows_duplicated": max(r["rows_duplicated"] for r in done),
                    "rows_incomplete": max(r["rows_incomplete"] for r in done),
                    "writers": done[0]["writers"],
                    "records": median(r["records"] for r in done),
                    "exit_codes": sorted({c for r in done for c in r["exit_codes"]}, key=str),
                    "raised": sorted(raised),
                }
            )
            if tracker == "tether" and (lost or raised):
                self.warnings.append(f"(b) tether {method}: {lost} rows missing, or a child raised")
        self.results["multi"] = out

    # -- (c) ----------------------------------------------------------------------------------
    def bench_latency(self) -> None:
        out = {}
        for tracker in ["bare", "tether", *(["wandb"] if self.has_wandb else [])]:
            # wandb's rows take ~15 s to reach its file: 3 children are enough to show it.
            reps = 3 if self.quick or tracker == "wandb" else 7
            progress(f"(c) spawn -> first row on disk: {tracker}, {reps} children")
            result = self.child({"scenario": "latency", "tracker": tracker, "reps": reps})
            if result is None:
                continue
            out[tracker] = {
                "to_disk_ms": median(result["to_disk_s"]) * 1e3 if result["to_disk_s"] else None,
                "to_exit_ms": median(result["to_exit_s"]) * 1e3 if result["to_exit_s"] else None,
                "seen": len(result["to_disk_s"]),
                "reps": reps,
                "failures": result["failures"],
            }
            readable = result["readable_after_init"]
            if readable not in (None, "yes"):
                self.warnings.append(
                    "(c) `tether.load_run(run.dir)` right after `tether.init(console='off')` "
                    f"(nothing logged yet) fails ({readable}): the run directory has no "
                    "segment until the first record is written"
                )
        self.results["latency"] = out

    # -- (d) ----------------------------------------------------------------------------------
    def bench_dataloader(self) -> None:
        if not (installed("torch") and installed("ipdb")):
            self.failures.append("(d) needs torch and ipdb installed")
            return
        out = []
        for tracker in ["tether", *(["wandb"] if self.has_wandb else [])]:
            for context in ("fork", "spawn"):
                progress(f"(d) DataLoader workers printing, ipdb imported: {tracker}, {context}")
                with scratch("dataloader") as tmp:
                    result = dataloader_case(tracker, context, tmp)
                out.append({"tracker": tracker, "context": context, **result})
                if tracker == "tether" and not result["finished"]:
                    self.warnings.append(f"(d) tether with {context} workers did not finish")
        self.results["dataloader"] = out

    # -- report ---------------------------------------------------------------------------
    def markdown(self, argv: list[str]) -> str:
        parts = [
            "## Console capture and multi-process logging (`bench/process_bench.py`)",
            "",
            machine_lines(SCRIPT.name, argv, self.load_at_start),
        ]
        if not self.has_wandb:
            parts.append("\nwandb is not installed, so its rows are missing.")
        if self.warnings:
            parts += ["", "**Warnings**", ""] + [f"- WARNING: {w}" for w in self.warnings]
        if self.failures:
            parts += ["", "**Failed measurements**", ""]
            parts += ["- " + f.replace("\n", " ")[:600] for f in self.failures]
        if "print" in self.results:
            parts += ["", self._print_table()]
        if "multi" in self.results:
            parts += ["", self._multi_table()]
        if "latency" in self.results:
            parts += ["", self._latency_table()]
        if "dataloader" in self.results:
            parts += ["", self._dataloader_table()]
        return "\n".join(parts) + "\n"

    def _print_table(self) -> str:
        data = self.results["print"]
        cases = data["cases"]
        bare = cases.get(("bare", "off"), {}).get("ns")
        rows = []
        names = {"bare": "no tracker", "tether": "tether", "wandb": "wandb (offline)"}
        for (tracker, console), d in cases.items():
            off = cases.get((tracker, "off"), {}).get("ns")
            on_off = fmt_ratio(d["ns"], off) if tracker != "bare" and console == "wrap" else "-"
            met = "-"
            if tracker == "tether" and console == "wrap" and off:
                met = check(d["ns"] / off <= TARGET_PRINT_RATIO)
            captured = d["captured"]
            rows.append(
                (
                    names[tracker],
                    "-" if tracker == "bare" else ("on (wrap)" if console == "wrap" else "off"),
                    fmt_num(d["ns"]),
                    on_off,
                    met,
                    fmt_ratio(d["ns"], bare),
                    "-" if tracker == "bare" else fmt_num(d["finish_s"] * 1e3),
                    "-" if captured[0] is None else ", ".join(f"{c:,}" for c in captured),
                    d["reps"],
                )
            )
        return (
            f"### (a) `print()` of a short line, {data['prints']:,} times, stdout to a file\n\n"
            f'`print("{LINE}")` in a loop, then `sys.stdout.flush()`; ns per print, median of '
            "the processes. Target for tether: capture on at most "
            f"{TARGET_PRINT_RATIO}x capture off. 'captured' counts the lines the tracker kept "
            "(tether: `load_run().console_lines()`; wandb: the run's `output.log`).\n\n"
            + table(
                (
                    "tracker",
                    "capture",
                    "ns/print",
                    "on / off",
                    f"≤ {TARGET_PRINT_RATIO}x",
                    "vs no tracker",
                    "finish() (ms)",
                    "lines captured (each process)",
                    "processes",
                ),
                rows,
            )
        )

    def _multi_table(self) -> str:
        rows = []
        labels = {
            ("tether", "spawn"): "tether, spawn, `Run` passed as argument",
            ("tether", "fork"): "tether, fork, `Run` passed as argument",
            ("wandb", "spawn"): "wandb, spawn, `Run` passed as argument",
            ("wandb", "fork"): "wandb, fork, `Run` passed as argument",
            ("wandb", "group"): "wandb, spawn, `wandb.init(group=...)` per process",
        }
        base = next(
            (d["points_s"] for d in self.results["multi"] if d["tracker"] == "tether"), None
        )
        for d in self.results["multi"]:
            met = "-"
            if d["tracker"] == "tether":
                met = check(d["points_s"] >= TARGET_MULTI_POINTS_S)
            lost = d["rows_missing"]
            rows.append(
                (
                    labels[(d["tracker"], d["method"])],
                    f"{d['procs']} x {d['steps']:,} x 10 (x{d['reps']})",
                    fmt_num(d["points_s"]),
                    fmt_ratio(d["points_s"], base),
                    met,
                    fmt_num(d["elapsed_s"]),
                    f"{d['rows_expected'] - lost:,} of {d['rows_expected']:,}",
                    f"{lost:,}",
                    f"{d['rows_duplicated']:,} / {d['rows_incomplete']:,}",
                    ", ".join(str(c) for c in d["exit_codes"]),
                    "; ".join(d["raised"]) or "nothing",
                )
            )
        return (
            "### (b) 8 processes logging into the same run\n\n"
            "Each child logs `steps` rows of 10 floats (metric_0 encodes the child and step, so "
            "every row is accounted for). Time from the first `Process.start()` to the last "
            "`join()` plus the parent's `finish()`; children do not call `finish()`. Rows are "
            "counted by reading the run(s) back from disk. Target for tether: "
            f"≥ {fmt_num(TARGET_MULTI_POINTS_S)} points/s. wandb logs fewer steps (its "
            "per-call cost would make 8 x 50,000 take minutes).\n\n"
            + "".join(
                f"- {labels[(d['tracker'], d['method'])]}: {d['records']:,.0f} history records "
                f"on disk for {d['rows_expected']:,} rows logged, {d['rows_missing']:,} rows "
                "missing; no child raised an exception.\n"
                for d in self.results["multi"]
                if d["tracker"] == "wandb" and d["rows_missing"]
            )
            + ("\n" if any(d["rows_missing"] for d in self.results["multi"]) else "")
            + table(
                (
                    "setup",
                    "procs x steps x keys",
                    "points/s",
                    "vs tether spawn",
                    "≥ 2M/s",
                    "seconds",
                    "rows on disk",
                    "lost",
                    "duplicated / incomplete",
                    "exit codes",
                    "raised in children",
                ),
                rows,
            )
        )

    def _latency_table(self) -> str:
        lat = self.results["latency"]
        bare = lat.get("bare", {}).get("to_disk_ms")
        labels = {
            "bare": "bare child (writes a marker file)",
            "tether": "tether (`Run` argument, `log()`, `tether.flush()`)",
            "wandb": "wandb (`Run` argument, `log()`)",
        }
        rows = []
        for tracker, d in lat.items():
            rows.append(
                (
                    labels[tracker],
                    fmt_num(d["to_disk_ms"]),
                    "-"
                    if tracker == "bare" or d["to_disk_ms"] is None or bare is None
                    else fmt_num(d["to_disk_ms"] - bare),
                    fmt_num(d["to_exit_ms"]),
                    f"{d['seen']} of {d['reps']}",
                    "; ".join(d["failures"]) or "-",
                )
            )
        return (
            "### (c) `spawn` `Process.start()` to the child's first row on disk\n\n"
            "The parent polls (`tether.load_run`, the wandb `.wandb` file, or the marker file) "
            "every ~2 ms; median over the children.\n\n"
            + table(
                (
                    "child",
                    "start -> on disk (ms)",
                    "above bare spawn (ms)",
                    "start -> child exited (ms)",
                    "rows seen (children)",
                    "problems",
                ),
                rows,
            )
        )

    def _dataloader_table(self) -> str:
        rows = []
        for d in self.results["dataloader"]:
            cap, term = d["captured_worker_lines"], d["terminal_worker_lines"]
            status = "timed out (killed)" if d["returncode"] is None else str(d["returncode"])
            rows.append(
                (
                    d["tracker"],
                    d["context"],
                    check(d["loop_completed"]),
                    check(d["finished"]),
                    status,
                    fmt_num(d["wall_s"]),
                    f"{term['worker_init']} / {term['getitem']}",
                    f"{cap['worker_init']} / {cap['getitem']}",
                    "; ".join(d["raised"]) or "nothing",
                )
            )
        return (
            "### (d) DataLoader workers that print, `import ipdb` first (wandb/wandb#1815)\n\n"
            "`import ipdb`, then the tracker, `init()` with default settings (console capture "
            "on), then 2 epochs over `DataLoader(16 items, batch_size=4, num_workers=2, "
            "worker_init_fn=...)` whose `worker_init_fn` and `__getitem__` print. Expected "
            "worker lines: 4 `worker_init` / 32 `getitem`. 'terminal' is what reached the real "
            "stdout; 'captured' is what the tracker recorded.\n\n"
            + table(
                (
                    "tracker",
                    "workers",
                    "loop completed",
                    "finished",
                    "exit code",
                    "wall (s)",
                    "terminal: init / getitem",
                    "captured: init / getitem",
                    "raised (stderr)",
                ),
                rows,
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, smoke test")
    parser.add_argument("--write", action="store_true", help="with --quick: update RESULTS.md")
    parser.add_argument("--only", default="a,b,c,d", help="comma-separated scenarios (a,b,c,d)")
    args = parser.parse_args()
    only = set(args.only.split(","))
    bench = Bench(args.quick)
    started = time.perf_counter()
    bench.warm_up()
    steps = {
        "a": bench.bench_print,
        "b": bench.bench_multi,
        "c": bench.bench_latency,
        "d": bench.bench_dataloader,
    }
    for key, step in steps.items():
        if key in only:
            step()
    report = bench.markdown(sys.argv[1:])
    report += f"\nTotal benchmark time: {time.perf_counter() - started:.0f} s.\n"
    print(report)
    if not args.quick or args.write:
        update_section(SECTION, report)
        progress(f"updated the {SECTION} section of bench/RESULTS.md")


if __name__ == "__main__":
    main()
