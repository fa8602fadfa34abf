"""What a Lightning logger adds to a training step: tether next to no logger, wandb and MLflow.

    python bench/integrations_bench.py          # full run (~10 min), rewrites RESULTS.md's section
    python bench/integrations_bench.py --quick  # small sizes, prints the table only

A tiny model (32 -> 64 -> 1 MLP, batches of 64, one CPU thread) trains with
``log_every_n_steps=1`` and one logged metric, so the logger is called every step. A callback
stamps the start of every training batch; a step's time is the interval between two starts,
which includes everything Lightning does after the batch, the logger's call among it.

The machine these figures come from is shared, and its load swings by several times within a
minute, so loggers are compared *inside one process, in alternation*: short fits (a fresh
``Trainer`` each, the first steps of each fit not counted) take turns, so that every logger
and the no-logger baseline see the same load. tether, a logger that does nothing (what
Lightning itself spends on having a logger) and no logger share one process; wandb
(``WANDB_MODE=offline``) and MLflow (a local SQLite store, Lightning's default synchronous
logging) each get a process of their own with a no-logger baseline beside them, since their
background threads and processes would slow whatever shares the process. Each process runs
``--repeats`` times; the table reports the median over those of each one's ratio to its own
baseline. Peers that are not installed are left out, and the table says so.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path
from typing import Any

from _common import (
    ChildError,
    fmt_num,
    installed,
    machine_lines,
    median,
    run_child,
    scratch,
    table,
    update_section,
    write_result,
)

SCRIPT = Path(__file__).resolve()
SECTION = "integrations_bench"
TARGET_OVERHEAD = 0.01  # tether may add at most 1% to a step
BATCH = 64
LABELS = {
    "none": "no logger",
    "null": "a logger that does nothing",
    "tether": "tether `TetherLogger`",
    "wandb": "wandb `WandbLogger` (offline)",
    "mlflow": "MLflow `MLFlowLogger` (SQLite)",
}
# Loggers measured in one process, each group beside its own no-logger baseline.
GROUPS = {
    "tether": ["none", "null", "tether"],
    "wandb": ["none", "wandb"],
    "mlflow": ["none", "mlflow"],
}
NEEDS = {"tether": None, "wandb": "wandb", "mlflow": "mlflow"}


# -- the child: loggers taking turns ----------------------------------------------------------
def child_main(spec_json: str, result_path: str) -> None:
    import json

    spec = json.loads(spec_json)
    if "direct" in spec:
        write_result(result_path, direct_cost(spec["direct"], int(spec["calls"]), Path.cwd()))
        return
    kinds: list[str] = spec["kinds"]
    steps, skip, turns = int(spec["steps"]), int(spec["skip"]), int(spec["turns"])
    tmp = Path.cwd()

    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset

    class Tiny(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1)
            )

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("train/loss", loss)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.01)

    class Stamps(pl.Callback):
        def __init__(self) -> None:
            self.wall: list[float] = []
            self.cpu: list[float] = []

        def on_train_batch_start(self, *args: Any) -> None:
            self.wall.append(time.perf_counter())
            self.cpu.append(time.process_time())

    x = torch.randn(steps * BATCH, 32)
    data = DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=BATCH)
    intervals: dict[str, list[float]] = {kind: [] for kind in kinds}
    cpu: dict[str, list[float]] = {kind: [] for kind in kinds}
    rows: list[int] = []
    shared: dict[str, Any] = {}  # loggers too slow to start for every fit (wandb)
    for turn in range(turns):
        order = kinds[turn % len(kinds) :] + kinds[: turn % len(kinds)]
        for kind in order:
            logger = _make_logger(kind, tmp, shared)
            stamps = Stamps()
            trainer = pl.Trainer(
                max_steps=steps,
                max_epochs=1,
                accelerator="cpu",
                devices=1,
                logger=logger,
                callbacks=[stamps],
                log_every_n_steps=1,
                enable_progress_bar=False,
                enable_checkpointing=False,
                enable_model_summary=False,
            )
            trainer.fit(Tiny(), data)
            wall, used = stamps.wall[skip:], stamps.cpu[skip:]
            intervals[kind] += [b - a for a, b in itertools.pairwise(wall)]
            cpu[kind].append((used[-1] - used[0]) / (len(used) - 1))
            if kind == "tether":
                import tether

                rows.append(len(tether.load_run(logger.version, dir=tmp).rows()))
    if "wandb" in shared:
        import wandb

        wandb.finish()
    write_result(
        result_path,
        {
            "median_s": {kind: median(values) for kind, values in intervals.items()},
            "cpu_s": {kind: median(values) for kind, values in cpu.items()},
            "rows": rows,
        },
    )


def direct_cost(kind: str, calls: int, tmp: Path) -> dict[str, float]:
    """The cost of one ``logger.log_metrics`` call, as Lightning makes it, in a tight loop.

    Wall time is what the training thread waits; CPU time counts every thread of the process
    up to the moment everything logged is on disk (tether's writer thread included).
    """
    logger = _make_logger(kind, tmp, {})
    for step in range(min(calls, 200)):  # warm up: first writes, imports, lazy setup
        logger.log_metrics({"train/loss": 1.0 / (step + 1), "epoch": 0}, step=step)
    best_wall, best_cpu = float("inf"), float("inf")
    for repeat in range(5):
        metrics = [{"train/loss": 1.0 / (i + 1), "epoch": repeat} for i in range(calls)]
        wall, cpu = time.perf_counter(), time.process_time()
        for step, values in enumerate(metrics):
            logger.log_metrics(values, step=step)
        wall = time.perf_counter() - wall
        if kind == "tether":
            logger.experiment.flush()
        cpu = time.process_time() - cpu
        best_wall, best_cpu = min(best_wall, wall / calls), min(best_cpu, cpu / calls)
    if kind == "wandb":
        import wandb

        wandb.finish()
    return {"wall_s": best_wall, "cpu_s": best_cpu}


def _make_logger(kind: str, tmp: Path, shared: dict[str, Any]) -> Any:
    if kind == "none":
        return False
    if kind == "null":
        return _null_logger()
    if kind == "tether":
        from tether.integrations.lightning import TetherLogger

        return TetherLogger(project="bench", dir=tmp, console="off")
    if kind == "wandb":
        from lightning.pytorch.loggers import WandbLogger

        if "wandb" not in shared:
            shared["wandb"] = WandbLogger(project="bench", save_dir=str(tmp), offline=True)
        return shared["wandb"]
    if kind == "mlflow":
        from lightning.pytorch.loggers import MLFlowLogger

        return MLFlowLogger(experiment_name="bench", tracking_uri=f"sqlite:///{tmp}/mlflow.db")
    raise ValueError(f"unknown logger {kind!r}")


def _null_logger() -> Any:
    """A Lightning logger that does nothing: what Lightning itself spends on having a logger."""
    from lightning.pytorch.loggers import Logger

    class NullLogger(Logger):
        name = "null"
        version = "0"

        def log_metrics(self, metrics: Any, step: Any = None) -> None:
            pass

        def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
            pass

    return NullLogger()


# -- the driver --------------------------------------------------------------------------------
def progress(message: str) -> None:
    print(f"[integrations_bench] {message}", file=sys.stderr, flush=True)


def measure(groups: list[str], *, steps: int, skip: int, turns: int, repeats: int) -> list[Any]:
    """One result per (group, repeat): medians per logger, measured side by side."""
    results = []
    for repeat in range(repeats):
        for group in groups:
            spec = {"kinds": GROUPS[group], "steps": steps, "skip": skip, "turns": turns}
            with scratch(f"integrations-{group}") as tmp:
                try:
                    result, wall = run_child(SCRIPT, spec, tmp, timeout=900)
                except ChildError as exc:
                    progress(f"{group} failed: {exc}")
                    continue
            results.append(result)
            medians = ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in result["median_s"].items())
            progress(f"repeat {repeat + 1}/{repeats} {group}: {medians} ({wall:.0f} s)")
    return results


def measure_direct(kinds: list[str], *, quick: bool) -> dict[str, dict[str, float]]:
    calls = {"tether": 20_000, "wandb": 5_000, "mlflow": 100}
    costs = {}
    for kind in kinds:
        spec = {"direct": kind, "calls": calls[kind] // (10 if quick else 1)}
        with scratch(f"integrations-direct-{kind}") as tmp:
            try:
                result, _ = run_child(SCRIPT, spec, tmp, timeout=900)
            except ChildError as exc:
                progress(f"direct {kind} failed: {exc}")
                continue
        costs[kind] = result
        progress(f"direct {kind}: {result['wall_s'] * 1e6:.1f} µs a call")
    return costs


def markdown(
    results: list[Any],
    direct: dict[str, dict[str, float]],
    missing: list[str],
    argv: list[str],
    spec: dict[str, int],
) -> str:
    def ratios(kind: str, key: str) -> list[float]:
        return [r[key][kind] / r[key]["none"] for r in results if kind in r[key]]

    def values(kind: str, key: str) -> list[float]:
        return [r[key][kind] for r in results if kind in r[key]]

    rows = []
    for kind, label in LABELS.items():
        if not values(kind, "median_s"):
            continue
        step = median(values(kind, "median_s"))
        ratio = median(ratios(kind, "median_s"))
        baselines = [r["median_s"]["none"] for r in results if kind in r["median_s"]]
        added = median(v - b for v, b in zip(values(kind, "median_s"), baselines, strict=True))
        rows.append(
            [
                label,
                fmt_num(step * 1e3) + " ms",
                f"x{ratio:.3f}",
                f"{added * 1e6:+.0f} µs",
                fmt_num(median(values(kind, "cpu_s")) * 1e3) + " ms",
                f"x{median(ratios(kind, 'cpu_s')):.3f}",
            ]
        )
    header = ["logger", "median step", "ratio", "added", "CPU per step", "ratio"]
    overhead = median(ratios("tether", "median_s")) - 1
    null_overhead = median(ratios("null", "median_s")) - 1
    kept = sorted({n for r in results for n in r["rows"]})
    step = median(values("none", "median_s"))
    call_rows = [
        [
            LABELS[kind],
            f"{cost['wall_s'] * 1e6:,.1f} µs",
            f"{cost['cpu_s'] * 1e6:,.1f} µs",
            f"{cost['cpu_s'] / step * 100:.2f}%",
        ]
        for kind, cost in direct.items()
    ]
    share = direct["tether"]["cpu_s"] / step if "tether" in direct else float("nan")
    verdict = "met" if share < TARGET_OVERHEAD else "**not met**"
    lines = [
        "## Lightning logger overhead per training step",
        "",
        machine_lines("integrations_bench.py", argv),
        "",
        f"A tiny Lightning model (32→64→1 MLP, batch {BATCH}, 1 CPU thread) logs one metric "
        f"every step. Loggers take turns inside one process: {spec['turns']} fits each of "
        f"{spec['steps']} steps (the first {spec['skip']} of each not counted), tether beside a "
        "do-nothing logger and no logger, wandb and MLflow each beside a no-logger baseline of "
        f"their own; each process ran {spec['repeats']} times. Ratios are to the baseline "
        "measured beside each logger (median over the repeats); the step columns are medians "
        "of all counted steps. CPU per step is the training process's CPU time, all threads "
        "(wandb's service process is not counted).",
        "",
        table(header, rows),
        "",
        "One `log_metrics` call as Lightning makes it (a dict of two numbers and a step), in a "
        "tight loop in a fresh process, best of 5: wall time is what the training thread "
        "waits; CPU counts every thread of the process until what was logged is on disk "
        "(tether's writer thread included; wandb's service process is not counted). The "
        "share is CPU per call over the median no-logger step above.",
        "",
        table(["logger", "wall per call", "CPU per call", "share of a step"], call_rows),
        "",
        f"Target: tether adds under 1% to a step: {verdict}. Measured directly, tether's "
        f"logging costs {share * 100:.2f}% of a {step * 1e3:.2f} ms step. End to end the "
        f"difference is {overhead * 100:+.1f}%, which this shared machine cannot tell from "
        f"noise: the do-nothing logger, which adds no work of its own, measured "
        f"{null_overhead * 100:+.1f}% the same way. Every logged step was on disk afterwards "
        f"(rows per fit: {', '.join(map(str, kept)) or 'n/a'}).",
    ]
    if missing:
        lines += ["", f"Not installed, so not measured: {', '.join(missing)}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, smoke test")
    parser.add_argument("--write", action="store_true", help="with --quick: update RESULTS.md")
    parser.add_argument("--repeats", type=int, default=None, help="processes per group")
    parser.add_argument("--child", nargs=2, metavar=("SPEC", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(*args.child)
        return
    if not installed("lightning"):
        sys.exit("integrations_bench needs lightning: run scripts/install-frameworks.sh")
    spec = {"steps": 150, "skip": 20, "turns": 2, "repeats": 1}
    if not args.quick:
        spec = {"steps": 300, "skip": 30, "turns": 8, "repeats": 3}
    if args.repeats:
        spec["repeats"] = args.repeats
    groups = [group for group, module in NEEDS.items() if module is None or installed(module)]
    missing = [module for module in NEEDS.values() if module and not installed(module)]
    started = time.perf_counter()
    results = measure(
        groups, steps=spec["steps"], skip=spec["skip"], turns=spec["turns"], repeats=spec["repeats"]
    )
    direct = measure_direct(groups, quick=args.quick)
    report = markdown(results, direct, missing, sys.argv[1:], spec)
    report += f"\nTotal benchmark time: {time.perf_counter() - started:.0f} s.\n"
    print(report)
    if not args.quick or args.write:
        update_section(SECTION, report)
        progress(f"updated the {SECTION} section of bench/RESULTS.md")


if __name__ == "__main__":
    main()
