"""System-metrics samplers side by side: tether's, wandb's and MLflow's, CPU and memory.

    python bench/system_bench.py             # full run (~10 min), rewrites RESULTS.md's section
    python bench/system_bench.py --quick     # short, prints the tables only

Every measured process is a fresh child that starts a run, starts 4 idle child processes (a
training job's tree: DataLoader workers), sleeps ``--seconds`` on its main thread and ends
the run, once with the tracker's system metrics on and once off, interleaved, ``--repeats``
times. Method:

* **CPU per sample.** The sampler runs at 0.1 s, 100 times its default rate, so that its cost
  stands well above the noise; the CPU of the measured processes with metrics on minus with
  them off, over the samples written, is the cost of one sample. tether and MLflow sample in
  a thread of the training process (its user + system CPU, which also holds what writing a
  sample costs the writer); wandb samples in its ``wandb-core`` service and ``wandb-symon``
  monitor processes (the CPU of every process of the tree). For tether and MLflow the
  sampler thread's own CPU clock (``pthread_getcpuclockid``) is given too.
* **% of one core** is one sample's CPU over the sampling interval: at each tracker's own
  default (tether 10 s, MLflow 10 s, wandb 15 s) and at a common 10 s.
* **Memory** is the resident memory (RSS) of the measured processes at the end, metrics on
  minus off; for wandb, of the Python process and every process it started (``wandb-core``,
  ``wandb-symon``), and the monitor's own RSS alone.
* **tether at its default interval**, measured directly: one run of ``--default-seconds`` at
  10 s, the sampler thread's CPU clock over that time, its start and first sample (psutil's
  import) apart from the samples after.

Peers: wandb offline (``wandb.init(mode="offline")``), MLflow with a local file store
(``file:`` tracking URI) and ``mlflow.enable_system_metrics_logging()``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

FAST_S = 0.1
DEFAULTS_S = {"tether": 10.0, "mlflow": 10.0, "wandb": 15.0}
CHILDREN = 4
MIB = 1024 * 1024
MLFLOW_METRIC = "system/cpu_utilization_percentage"
WHAT = (
    "What each reads per sample, with its defaults: tether the job's process tree (here 5 "
    "processes: CPU, memory as PSS, threads), the host (CPU, memory, swap, disk and network "
    "rates, the run's disk) and NVML; wandb its own process (not the tree: "
    "`x_stats_track_process_tree` is off by default), the host and GPUs, in Go; MLflow the host "
    "(CPU, memory, disk, network) and GPUs, and it reads the run back from its store after "
    "every sample."
)
TITLE = "## System metrics: tether's sampler beside wandb's and MLflow's (`bench/system_bench.py`)"


# -- the measured child -----------------------------------------------------------------------
def _idle(stop: Any) -> None:
    stop.wait()


def _thread_cpu(name: str) -> float | None:
    """CPU seconds of this process's thread called ``name`` (None if there is none)."""
    for thread in threading.enumerate():
        if thread.name == name and thread.ident is not None:
            try:
                clock = time.pthread_getcpuclockid(thread.ident)
                return time.clock_gettime(clock)
            except OSError:
                return None
    return None


def _tree(pid: int) -> tuple[float, int, dict[str, int]]:
    """(CPU seconds, RSS bytes) of ``pid`` and its descendants, and RSS by process name."""
    import psutil

    root = psutil.Process(pid)
    cpu, rss = 0.0, 0
    names: dict[str, int] = {}
    for process in [root, *root.children(recursive=True)]:
        try:
            with process.oneshot():
                times = process.cpu_times()
                memory = process.memory_info().rss
                name = process.name()
        except psutil.Error:
            continue
        cpu += times.user + times.system
        rss += memory
        names[name] = names.get(name, 0) + memory
    return cpu, rss, names


def _own() -> tuple[float, int]:
    times = os.times()
    with open("/proc/self/statm") as statm:
        resident = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return times.user + times.system, resident


def child(spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    tracker, on, interval, seconds = spec["tracker"], spec["on"], spec["interval"], spec["seconds"]
    result: dict[str, Any] = {}
    if tracker == "tether":
        from tether.system.environment import EnvironmentCapture

        # What starting the environment capture costs init(): measured cold, as in init().
        started = time.perf_counter()
        EnvironmentCapture(lambda record: None, run_dir=tmp).start()
        result["environment_start_ms"] = (time.perf_counter() - started) * 1000
        import tether

        system = interval if on else False
        run: Any = tether.init(project="bench", dir=tmp, console="off", system=system)
        thread = "tether-system"
    elif tracker == "mlflow":
        # The local file store (MLflow 3 keeps it behind this switch; SQLite is its default).
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
        import mlflow

        mlflow.set_tracking_uri(f"file:{tmp}/mlruns")
        if on:
            mlflow.enable_system_metrics_logging()
            mlflow.set_system_metrics_sampling_interval(interval)
            mlflow.set_system_metrics_samples_before_logging(1)
        else:
            mlflow.disable_system_metrics_logging()
        run = mlflow.start_run()
        thread = "SystemMetricsMonitor"
    else:
        import wandb

        settings = (
            wandb.Settings(x_stats_sampling_interval=interval)
            if on
            else wandb.Settings(x_disable_stats=True)
        )
        run = wandb.init(project="bench", mode="offline", dir=str(tmp), settings=settings)
        thread = ""
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    idle = [context.Process(target=_idle, args=(stop,), daemon=True) for _ in range(CHILDREN)]
    for process in idle:
        process.start()
    cpu0, _ = _own()
    tree0 = _tree(os.getpid())[0]
    thread0 = _thread_cpu(thread) if thread else None
    first: float | None = None
    if tracker == "tether" and on:
        # The sampler thread's CPU once its first sample is written: start-up cost.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            run.flush()
            if tether.load_run(run.dir).last_system_sample is not None:
                break
            time.sleep(0.01)
        first = _thread_cpu(thread)
        result["first_sample_cpu_s"] = first
    time.sleep(seconds)
    cpu1, rss = _own()
    tree1, tree_rss, names = _tree(os.getpid())
    thread1 = _thread_cpu(thread) if thread else None
    stop.set()
    for process in idle:
        process.join(10)
    result.update(
        {
            "cpu_s": cpu1 - cpu0,
            "tree_cpu_s": tree1 - tree0,
            "rss": rss,
            "tree_rss": tree_rss,
            "monitor_rss": names.get("wandb-symon", 0),
            "core_rss": names.get("wandb-core", 0),
        }
    )
    if thread1 is not None:
        base = first if first is not None else (thread0 or 0.0)
        result["thread_cpu_s"] = thread1 - base
    if tracker == "tether":
        run.finish()
        samples = tether.load_run(run.dir).system()
        result["samples"] = len(samples) - (1 if first is not None else 0)
    elif tracker == "mlflow":
        run_id = run.info.run_id
        mlflow.end_run()
        client = mlflow.MlflowClient()
        result["samples"] = len(client.get_metric_history(run_id, MLFLOW_METRIC))
    else:
        run.finish()
        result["samples"] = _wandb_stats(tmp)
    return result


def _wandb_stats(tmp: Path) -> int:
    from wandb.proto import wandb_internal_pb2 as pb

    from _common import wandb_raw_records, wandb_run_files

    count = 0
    for path in wandb_run_files(tmp):
        for raw in wandb_raw_records(path):
            record = pb.Record()
            try:
                record.ParseFromString(raw)
            except Exception:
                continue
            if record.WhichOneof("record_type") == "stats":
                count += 1
    return count


def child_main(spec_json: str, result_path: str) -> None:
    spec = json.loads(spec_json)
    try:
        result = child(spec, Path.cwd())
    except BaseException:
        traceback.print_exc()
        raise
    Path(result_path).write_text(json.dumps(result))


# -- the driver -------------------------------------------------------------------------------
def measure(trackers: list[str], seconds: float, repeats: int) -> dict[str, dict[str, list[Any]]]:
    from _common import run_child, scratch

    results: dict[str, dict[str, list[Any]]] = {t: {"on": [], "off": []} for t in trackers}
    for repeat in range(repeats):
        for tracker in trackers:  # interleaved, so drifts of the machine's load hit all alike
            for on in (True, False):
                spec = {"tracker": tracker, "on": on, "interval": FAST_S, "seconds": seconds}
                with scratch(f"system-{tracker}") as tmp:
                    found, _ = run_child(Path(__file__), spec, tmp, timeout=seconds + 240)
                results[tracker]["on" if on else "off"].append(found)
                print(f"  {repeat + 1}/{repeats} {tracker:6} {'on ' if on else 'off'} {found}")
    return results


def default_interval(seconds: float) -> dict[str, Any]:
    from _common import run_child, scratch

    spec = {"tracker": "tether", "on": True, "interval": DEFAULTS_S["tether"], "seconds": seconds}
    with scratch("system-default") as tmp:
        found, _ = run_child(Path(__file__), spec, tmp, timeout=seconds + 240)
    return found


def per_sample(results: dict[str, list[Any]], key: str) -> float:
    """Median over repeats of (metric on - metric off) / samples, pairing repeat by repeat."""
    from _common import median

    values = [
        (on[key] - off[key]) / max(on["samples"], 1)
        for on, off in zip(results["on"], results["off"], strict=True)
    ]
    return median(values)


def report(results: dict[str, dict[str, list[Any]]], direct: dict[str, Any] | None) -> str:
    from _common import fmt_num, fmt_ratio, median, table

    rows = []
    figures: dict[str, dict[str, float]] = {}
    for tracker, found in results.items():
        cpu_key = "tree_cpu_s" if tracker == "wandb" else "cpu_s"
        rss_key = "tree_rss" if tracker == "wandb" else "rss"
        sample_s = per_sample(found, cpu_key)
        threads = [
            r["thread_cpu_s"] / max(r["samples"], 1) for r in found["on"] if "thread_cpu_s" in r
        ]
        thread_s = median(threads) if threads else float("nan")
        rss_delta = median(
            on[rss_key] - off[rss_key] for on, off in zip(found["on"], found["off"], strict=True)
        )
        figures[tracker] = {
            "sample_ms": sample_s * 1000,
            "own_default": 100 * sample_s / DEFAULTS_S[tracker],
            "at_10": 100 * sample_s / 10.0,
            "rss_mib": rss_delta / MIB,
        }
        rows.append(
            [
                tracker,
                fmt_num(median(r["samples"] for r in found["on"])),
                fmt_num(sample_s * 1000),
                fmt_num(thread_s * 1000),
                f"{fmt_num(figures[tracker]['own_default'])}% at {DEFAULTS_S[tracker]:g} s",
                f"{fmt_num(figures[tracker]['at_10'])}%",
                fmt_num(rss_delta / MIB),
                fmt_num(median(r["monitor_rss"] for r in found["on"]) / MIB)
                if tracker == "wandb"
                else "-",
            ]
        )
    header = [
        "tracker",
        "samples (0.1 s, on)",
        "CPU ms / sample",
        "sampler thread ms / sample",
        "% of one core, own default",
        "% of one core at 10 s",
        "RSS on - off, MiB",
        "monitor process RSS, MiB",
    ]
    lines = [table(header, rows), ""]
    base = figures.get("tether")
    if base:
        ratio_rows = [
            [
                tracker,
                fmt_ratio(f["sample_ms"], base["sample_ms"]),
                fmt_ratio(f["own_default"], base["own_default"]),
                fmt_ratio(f["rss_mib"], base["rss_mib"]) if base["rss_mib"] > 0 else "n/a",
            ]
            for tracker, f in figures.items()
            if tracker != "tether"
        ]
        if ratio_rows:
            lines += [
                "Ratios to tether (higher costs more):",
                "",
                table(["tracker", "CPU / sample", "% of a core at own default", "RSS"], ratio_rows),
                "",
            ]
        # The direct measurement at 10 s is the honest one (cold caches); else extrapolated.
        percent = base["own_default"]
        how = "extrapolated from 0.1 s"
        if direct is not None:
            percent = 100 * direct["thread_cpu_s"] / direct["seconds"]
            how = f"measured at 10 s; {fmt_num(base['own_default'])}% extrapolated from 0.1 s"
        target_cpu = percent <= 0.1
        target_rss = base["rss_mib"] <= 5.0
        lines += [
            f"Targets: tether's sampler at its default interval uses {fmt_num(percent)}% of "
            f"one core ({how}; target <= 0.1%: {'met' if target_cpu else '**missed**'}) and "
            f"{fmt_num(base['rss_mib'])} MiB (target <= 5 MiB: "
            f"{'met' if target_rss else '**missed**'}).",
            "",
        ]
    if direct is not None:
        samples = direct["samples"] + 1
        start = direct["first_sample_cpu_s"]
        steady = direct["thread_cpu_s"]  # the samples after the first
        seconds = direct["seconds"]
        lines.append(
            f"tether at its default 10 s, measured directly (the sampler thread's CPU clock) "
            f"over {fmt_num(seconds)} s: {samples} samples; "
            f"{fmt_num(1000 * steady / max(direct['samples'], 1))} ms per sample after the "
            f"first, {fmt_num(100 * steady / seconds)}% of one core; once per run, "
            f"{fmt_num(start * 1000)} ms to start (psutil's import, NVML's absence, each "
            f"process's first PSS) and take the first sample. A sample costs more at 10 s than "
            "at 0.1 s (caches gone cold between samples), which the extrapolation above does "
            f"not see. Starting the environment capture costs init() "
            f"{fmt_num(direct['environment_start_ms'])} ms (its cheap sections and the "
            "thread's start; packages, NVML and git run off the calling thread)."
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs, prints only")
    parser.add_argument("--write", action="store_true", help="with --quick: update RESULTS.md")
    parser.add_argument("--seconds", type=float, default=20.0, help="each measured run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--default-seconds", type=float, default=120.0)
    parser.add_argument("--no-peers", action="store_true", help="tether only")
    args = parser.parse_args()
    from _common import installed, machine_lines, update_section

    if args.quick:
        args.seconds, args.repeats, args.default_seconds = 3.0, 1, 12.0
    trackers = ["tether"]
    if not args.no_peers:
        trackers += [peer for peer in ("wandb", "mlflow") if installed(peer)]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    results = measure(trackers, args.seconds, args.repeats)
    direct = default_interval(args.default_seconds)
    direct["seconds"] = args.default_seconds
    body = report(results, direct)
    argv = sys.argv[1:]
    section = "\n\n".join(
        [
            TITLE,
            machine_lines("system_bench.py", argv, load),
            f"Method (see the script's docstring): each tracker sampling every {FAST_S:g} s in a "
            f"{args.seconds:g} s run of an idle training process with {CHILDREN} idle child "
            f"processes, against the same run with its system metrics off; medians of "
            f"{args.repeats} interleaved pairs. CPU per sample is (CPU on - CPU off) / samples; "
            "% of one core is that over the sampling interval.",
            WHAT,
            body,
        ]
    )
    print(section)
    if not args.quick or args.write:
        update_section("system_bench", section)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child_main(sys.argv[2], sys.argv[3])
    else:
        main()
