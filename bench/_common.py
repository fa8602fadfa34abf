"""Helpers shared by ``client_bench.py`` and ``process_bench.py``.

Nothing here imports a tracker: every tracker is imported only inside the child process that
measures it, so the benchmark driver never pays for (or is disturbed by) what it measures.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "RESULTS.md"
# Bytecode caches of everything the children import (git-ignored). Children write and reuse
# them like any normal Python install would, even where the calling shell sets
# PYTHONDONTWRITEBYTECODE, and without writing into the source tree.
PYCACHE = BENCH_DIR / "_work" / "pycache"

PEERS = ("wandb", "mlflow")
KEYS = tuple(f"metric_{j}" for j in range(10))

RESULTS_HEADER = """# tether benchmarks

Measured by the scripts in this folder; every figure below is a median of real runs on the
machine named in its section. Reproduce with:

```
. .venv/bin/activate
pip install wandb mlflow psutil        # the peers (see pyproject's `bench` extra)
python bench/client_bench.py           # rewrites the client_bench section (~8 min)
python bench/process_bench.py          # rewrites the process_bench section (~8 min)
```

Each script rewrites only its own section, between its `<!-- name -->` markers (the other
`*_bench.py` scripts here write their own sections the same way). A `--quick` flag runs
small sizes for a smoke test (and does not touch this file unless `--write`). Children run
with `PYTHONPYCACHEPREFIX=bench/_work/pycache` (git-ignored) so imports are measured with
warm bytecode caches, as on a normal install, without writing into `src/`.

"""


# -- statistics and formatting ---------------------------------------------------------------
def median(values: Iterable[float]) -> float:
    data = list(values)
    return statistics.median(data) if data else float("nan")


def fmt_num(value: float | None, digits: int = 3) -> str:
    """A number with ``digits`` significant digits and thousands separators."""
    if value is None or math.isnan(value):
        return "n/a"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    decimals = digits - 1 - int(f"{magnitude:e}".split("e")[1])
    return f"{value:,.{max(decimals, 0)}f}"


def fmt_ratio(value: float | None, base: float | None) -> str:
    """``value / base`` as ``x1.23`` (the tables' "vs tether" column)."""
    if value is None or base is None or base == 0 or math.isnan(value) or math.isnan(base):
        return "n/a"
    return f"x{fmt_num(value / base)}"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def check(ok: bool) -> str:
    return "yes" if ok else "**NO**"


def make_row(i: int) -> dict[str, float]:
    """The row logged at step ``i``: 10 float scalars (built fresh for every call)."""
    x = i * 1e-3
    return {
        "metric_0": x,
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


# -- environment --------------------------------------------------------------------------------
def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def version_of(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def machine_lines(script: str, argv: Sequence[str], load_at_start: float | None = None) -> str:
    now = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    versions = ", ".join(
        f"{name} {version_of(name)}" for name in ("tether", "wandb", "mlflow", "torch", "msgspec")
    )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    command = " ".join(["python", f"bench/{script}", *argv])
    load = ""
    if hasattr(os, "getloadavg"):
        start = "" if load_at_start is None else f"{load_at_start:.1f} at the start, "
        load = f" (1-minute load average {start}{os.getloadavg()[0]:.1f} at the end)"
    return (
        f"Run `{command}` on {now}: {cores} cores ({cpu_model()}), "
        f"Python {platform.python_version()} on {platform.system()} {platform.release()}; "
        f"{versions}. The machine is shared{load}, so figures carry noise; medians are "
        "reported, and repeated measurements of different trackers are interleaved."
    )


def child_env(tmp: Path) -> dict[str, str]:
    """The environment of a measured child: no TETHER_* leaking in, peers offline and local."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TETHER_", "WANDB_"))}
    env.update(
        {
            "WANDB_MODE": "offline",
            "WANDB_SILENT": "true",
            "WANDB_DIR": str(tmp),
            "WANDB_CACHE_DIR": str(tmp / ".wandb-cache"),
            "WANDB_CONFIG_DIR": str(tmp / ".wandb-config"),
            "WANDB_DATA_DIR": str(tmp / ".wandb-data"),
            "WANDB_ARTIFACT_DIR": str(tmp / ".wandb-artifacts"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db",
            "GIT_PYTHON_REFRESH": "quiet",
            "PYTHONPYCACHEPREFIX": str(PYCACHE),
        }
    )
    # Measured as users run: stdout block-buffered when redirected, bytecode cached.
    env.pop("PYTHONUNBUFFERED", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


@contextlib.contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"tether-bench-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- children -----------------------------------------------------------------------------------
class ChildError(RuntimeError):
    pass


def run_child(
    script: Path,
    spec: dict[str, Any],
    tmp: Path,
    *,
    timeout: float = 300.0,
    log_path: Path | None = None,
    python: str | None = None,
) -> tuple[dict[str, Any], float]:
    """Run ``script --child SPEC RESULT`` in ``tmp``; return its JSON result and wall seconds.

    ``python`` is the interpreter (``sys.executable`` by default; a peer installed in a
    virtual environment of its own runs under that one's).

    The child's stdout and stderr go to ``log_path`` (a file, so stdout is block-buffered as
    in a batch job); its tail is shown if the child fails.
    """
    result_path = tmp / f"result-{time.monotonic_ns()}.json"
    log_path = log_path or tmp / f"child-{time.monotonic_ns()}.log"
    command = [python or sys.executable, str(script), "--child", json.dumps(spec), str(result_path)]
    with open(log_path, "wb") as log:
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                command,
                cwd=tmp,
                env=child_env(tmp),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ChildError(f"{spec} timed out after {timeout:.0f} s") from exc
        wall = time.perf_counter() - start
    if proc.returncode != 0 or not result_path.exists():
        tail = log_path.read_text(errors="replace")[-3000:]
        raise ChildError(f"{spec} exited {proc.returncode}:\n{tail}")
    return json.loads(result_path.read_text()), wall


def write_result(path: str, result: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(result))


def dir_bytes(path: Path) -> int:
    """Total size of the regular files under ``path`` (symlinks not followed)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            with contextlib.suppress(OSError):
                if not os.path.islink(full):
                    total += os.path.getsize(full)
    return total


def max_rss_mib() -> float:
    """Peak RSS of this process in MiB.

    ``VmHWM`` (the peak of this process's own address space) rather than ``getrusage``'s
    ``ru_maxrss``: on Linux the latter also carries the peak of the parent that forked this
    process before ``exec``, which would charge the benchmark driver's memory to the child.
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


# -- wandb's offline transaction log ----------------------------------------------------------
# A ``.wandb`` file is a 7-byte header (":W&B", u16 magic, u8 version) followed by records in
# 32 KiB blocks, each record chunk prefixed by (u32 crc, u16 length, u8 type) with types
# full=1, first=2, middle=3, last=4 (the LevelDB log layout). Each record is a protobuf
# ``wandb.proto.wandb_internal_pb2.Record``. Only used to count what wandb kept on disk.
_WANDB_BLOCK = 32768
_WANDB_CHUNK = struct.Struct("<IHB")


def wandb_raw_records(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if not data.startswith(b":W&B"):
        return []
    records: list[bytes] = []
    pending = b""
    pos = 7
    while pos + _WANDB_CHUNK.size <= len(data):
        left = _WANDB_BLOCK - pos % _WANDB_BLOCK
        if left < _WANDB_CHUNK.size:
            pos += left
            continue
        _crc, length, kind = _WANDB_CHUNK.unpack_from(data, pos)
        if kind == 0 and length == 0:  # block padding
            pos += left
            continue
        start = pos + _WANDB_CHUNK.size
        chunk = data[start : start + length]
        if len(chunk) < length:
            break  # a partly written record at the end
        pos = start + length
        if kind == 1:
            records.append(chunk)
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            records.append(pending + chunk)
            pending = b""
    return records


def wandb_history(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """(history rows as {key: value_json}, console lines) recorded in a ``.wandb`` file."""
    from wandb.proto import wandb_internal_pb2 as pb

    rows: list[dict[str, Any]] = []
    console: list[str] = []
    for raw in wandb_raw_records(path):
        record = pb.Record()
        try:
            record.ParseFromString(raw)
        except Exception:
            continue
        kind = record.WhichOneof("record_type")
        if kind == "history":
            row = {
                (item.key or "/".join(item.nested_key)): item.value_json
                for item in record.history.item
            }
            row["_step"] = record.history.step.num
            rows.append(row)
        elif kind == "output_raw":
            console.append(record.output_raw.line)
        elif kind == "output":
            console.append(record.output.line)
    return rows, console


def wandb_run_files(root: Path) -> list[Path]:
    return sorted(root.glob("**/offline-run-*/run-*.wandb"))


# -- RESULTS.md -------------------------------------------------------------------------------
def update_section(name: str, body: str) -> None:
    """Replace the ``<!-- name -->`` ... ``<!-- /name -->`` section of RESULTS.md."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    text = RESULTS.read_text() if RESULTS.exists() else RESULTS_HEADER
    block = f"{start}\n{body.strip()}\n{end}"
    if start in text and end in text:
        before = text.split(start, 1)[0]
        after = text.split(end, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)
