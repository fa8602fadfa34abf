"""Logging media from the client: tether beside wandb (offline), images and histograms.

    python bench/media_bench.py             # full run (~3 min), prints the section
    python bench/media_bench.py --write     # ... and rewrites RESULTS.md's media_bench section
    python bench/media_bench.py --quick     # small sizes, a smoke test

Each measurement runs in a fresh child process (``_common.run_child``) in a fresh temporary
directory, tether and wandb interleaved, ``--repeats`` times each; medians are reported.

* **Images.** ``--images`` distinct 224x224x3 uint8 images (smooth gradients with mild noise,
  as a photo compresses, made before the clock starts and the same for both) are logged one
  per step: ``run.log({"image": tether.Image(x)})`` and ``wandb.log({"image":
  wandb.Image(x)})``. *Calling thread* is the time each of those calls takes (constructor
  and ``log()``), per call; *sustained* is images over the time from the first call to the
  end of ``finish()`` (every image encoded and on disk); the first image, which imports what
  images need, is timed apart and left out of both; *bytes per image* is the run
  folder's size after ``finish()`` over the images (both PNG). tether's images dropped by
  its queue cap (``TETHER_MEDIA_QUEUE_BYTES``) are counted and shown, as are those stored.
* **Histograms.** A 10M-element float32 array (numpy) and tensor (torch, CPU), logged (the
  training thread's cost) and, apart, binned wherever the binning runs (tether: its writer's
  thread): ``tether.Histogram(x)`` (64 bins) and ``wandb.Histogram(x)`` (64 bins), each
  followed by ``log()``; calling-thread time, ``--hist-repeats`` times in each child, torch
  with its default threads.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _common import (  # noqa: E402
    ChildError,
    dir_bytes,
    fmt_num,
    fmt_ratio,
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
SECTION = "media_bench"
SIDE = 224
HIST_ELEMENTS = 10_000_000
TRACKERS = ("tether", "wandb")
TITLE = "## Media from the client: tether beside wandb (`bench/media_bench.py`)"


# ============================================================================================
# Child side: one tracker per process
# ============================================================================================
def _images(count: int) -> list[Any]:
    """``count`` distinct photo-like images: gradients that differ per image, mild noise."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = np.linspace(0.0, 1.0, SIDE, dtype=np.float32)[:, None, None]
    cols = np.linspace(0.0, 1.0, SIDE, dtype=np.float32)[None, :, None]
    images = []
    for i in range(count):
        phase = rng.uniform(0, 2 * np.pi, size=3).astype(np.float32)
        base = 0.5 + 0.4 * np.sin(6 * rows + 4 * cols + phase + i * 0.01)
        noise = rng.normal(0.0, 0.02, size=(SIDE, SIDE, 3)).astype(np.float32)
        images.append((np.clip(base + noise, 0, 1) * 255).astype(np.uint8))
    return images


class Tracker:
    def __init__(self, name: str, tmp: Path) -> None:
        self.name = name
        if name == "tether":
            import tether

            self.module: Any = tether
            self.run: Any = tether.init(project="bench", dir=tmp, console="off")
            self.folder = Path(self.run.dir)
        else:
            import wandb

            self.module = wandb
            self.run = wandb.init(
                project="bench", dir=str(tmp), settings=wandb.Settings(console="off")
            )
            self.folder = Path(self.run.dir).parent

    def image(self, pixels: Any) -> Any:
        return self.module.Image(pixels)

    def histogram(self, values: Any) -> Any:
        if self.name == "tether":
            return self.module.Histogram(values, bins=64)
        return self.module.Histogram(values, num_bins=64)

    def finish(self) -> None:
        self.run.finish()


def child_images(spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    pixels = _images(spec["images"] + 1)
    tracker = Tracker(spec["tracker"], tmp)
    log, make = tracker.run.log, tracker.image
    calls: list[int] = []
    clock = time.perf_counter_ns
    # The first image imports what images need (Pillow, numpy): timed apart, not in the rate.
    t0 = clock()
    log({"image": make(pixels.pop())}, step=0)
    first = clock() - t0
    start = clock()
    for step, image in enumerate(pixels, start=1):
        t0 = clock()
        log({"image": make(image)}, step=step)
        calls.append(clock() - t0)
    logged = clock()
    tracker.finish()
    end = clock()
    result: dict[str, Any] = {
        "call_us": [c / 1e3 for c in calls],
        "first_ms": first / 1e6,
        "loop_s": (logged - start) / 1e9,
        "total_s": (end - start) / 1e9,
        "bytes": dir_bytes(tracker.folder),
        "images": len(pixels),
    }
    if tracker.name == "tether":
        import tether

        data = tether.load_run(tracker.folder)
        result["stored"] = len(data.media("image")) - 1
        result["dropped"] = sum(
            int(value)
            for key, value in data.summary.items()
            if key.startswith("_tether/media_dropped") and isinstance(value, int | float)
        )
    else:
        media = tracker.folder / "files" / "media"
        result["stored"] = len(list(media.glob("**/*.png"))) - 1
        result["dropped"] = 0
    return result


def child_histograms(spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    import numpy as np
    import torch

    array = np.random.default_rng(0).standard_normal(HIST_ELEMENTS, dtype=np.float32)
    values = {"numpy": array, "torch": torch.from_numpy(array.copy())}
    tracker = Tracker(spec["tracker"], tmp)
    times: dict[str, list[float]] = {"numpy": [], "torch": []}
    # The whole binning work, wherever it runs: tether bins on its writer's thread (the call
    # only copies), so its binning is forced here (meta()) and timed with the call.
    binned: dict[str, list[float]] = {"numpy": [], "torch": []}
    step = 0
    for _ in range(spec["repeats"]):
        for library, data in values.items():
            t0 = time.perf_counter()
            tracker.run.log({f"hist/{library}": tracker.histogram(data)}, step=step)
            times[library].append((time.perf_counter() - t0) * 1e3)
            step += 1
            if spec["tracker"] == "tether":
                tracker.run.flush()  # the logged one is binned: not timed with the next
            t0 = time.perf_counter()
            histogram = tracker.histogram(data)
            if spec["tracker"] == "tether":
                histogram.meta()
            binned[library].append((time.perf_counter() - t0) * 1e3)
    tracker.finish()
    return {"ms": times, "binned_ms": binned}


def child_main(spec_json: str, result_path: str) -> None:
    spec = json.loads(spec_json)
    tmp = Path.cwd()
    work = child_images if spec["scenario"] == "images" else child_histograms
    write_result(result_path, work(spec, tmp))


# ============================================================================================
# Driver
# ============================================================================================
def measure(args: argparse.Namespace) -> dict[str, dict[str, list[Any]]]:
    results: dict[str, dict[str, list[Any]]] = {t: {"images": [], "hist": []} for t in TRACKERS}
    for repeat in range(args.repeats):
        for tracker in TRACKERS if repeat % 2 == 0 else reversed(TRACKERS):
            for scenario, spec in (
                ("images", {"images": args.images}),
                ("hist", {"repeats": args.hist_repeats}),
            ):
                full = {"tracker": tracker, "scenario": scenario, **spec}
                with scratch(f"media-{tracker}") as tmp:
                    result, _wall = run_child(SCRIPT, full, tmp, timeout=600)
                results[tracker][scenario].append(result)
                print(f"  {tracker} {scenario} #{repeat + 1} done", file=sys.stderr)
    return results


def report(results: dict[str, dict[str, list[Any]]], args: argparse.Namespace) -> str:
    def images(tracker: str, field: str) -> float:
        return median(r[field] for r in results[tracker]["images"])

    figures: dict[str, dict[str, float]] = {}
    for tracker in TRACKERS:
        runs = results[tracker]["images"]
        calls = [median(r["call_us"]) for r in runs]
        figures[tracker] = {
            "call_us": median(calls),
            "call_p90_us": median(sorted(r["call_us"])[int(0.9 * len(r["call_us"]))] for r in runs),
            "loop_per_s": median(r["images"] / r["loop_s"] for r in runs),
            "per_s": median(r["images"] / r["total_s"] for r in runs),
            "bytes": median(r["bytes"] / (r["stored"] + 1) for r in runs),
            "first_ms": median(r["first_ms"] for r in runs),
            "stored": images(tracker, "stored"),
            "dropped": images(tracker, "dropped"),
            "hist_numpy_ms": median(median(r["ms"]["numpy"]) for r in results[tracker]["hist"]),
            "hist_torch_ms": median(median(r["ms"]["torch"]) for r in results[tracker]["hist"]),
            "hist_numpy_binned_ms": median(
                median(r["binned_ms"]["numpy"]) for r in results[tracker]["hist"]
            ),
            "hist_torch_binned_ms": median(
                median(r["binned_ms"]["torch"]) for r in results[tracker]["hist"]
            ),
        }
    t, w = figures["tether"], figures["wandb"]
    rows = [
        ("first image, imports included (ms)", "first_ms", 3),
        ("calling thread per image, median (µs)", "call_us", 3),
        ("calling thread per image, p90 (µs)", "call_p90_us", 3),
        ("images/s, logging loop alone", "loop_per_s", 3),
        ("images/s sustained (to the end of finish())", "per_s", 3),
        ("bytes on disk per image", "bytes", 3),
        ("images stored (of those logged)", "stored", 4),
        ("images dropped (queue cap)", "dropped", 4),
        ("Histogram of 10M float32, numpy (ms)", "hist_numpy_ms", 3),
        ("Histogram of 10M float32, torch CPU (ms)", "hist_torch_ms", 3),
        ("  ... binned, wherever it runs, numpy (ms)", "hist_numpy_binned_ms", 3),
        ("  ... binned, wherever it runs, torch CPU (ms)", "hist_torch_binned_ms", 3),
    ]
    body = table(
        ("", "tether", "wandb (offline)", "wandb / tether"),
        (
            (label, fmt_num(t[key], digits), fmt_num(w[key], digits), fmt_ratio(w[key], t[key]))
            for label, key, digits in rows
        ),
    )
    argv = sys.argv[1:]
    return "\n\n".join(
        [
            TITLE,
            machine_lines("media_bench.py", argv),
            f"{args.images} images of {SIDE}x{SIDE}x3 uint8 per run, {args.repeats} runs per "
            f"tracker; histograms {args.hist_repeats} times per run. Method: the script's "
            "docstring.",
            body,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, prints only")
    parser.add_argument("--write", action="store_true", help="rewrite RESULTS.md's section")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hist-repeats", type=int, default=5)
    args = parser.parse_args()
    if args.quick:
        args.images, args.repeats, args.hist_repeats = 50, 1, 2
    missing = [name for name in ("wandb", "numpy", "torch", "PIL") if not installed(name)]
    if missing:
        sys.exit(f"media_bench needs {', '.join(missing)}: pip install wandb torch")
    try:
        section = report(measure(args), args)
    except ChildError as exc:
        sys.exit(f"media_bench: a child failed: {exc}")
    print(section)
    if args.write:
        update_section(SECTION, section)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child_main(sys.argv[2], sys.argv[3])
    else:
        main()
