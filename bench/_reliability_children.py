"""The child side of ``reliability.py``: the processes that log, and get killed.

Run by ``reliability.py`` as ``python bench/_reliability_children.py MODE SPEC_JSON``. Standard
library only at module level: the driver imports this module for ``BAD_CASES`` without
importing tether, and a child killed during its imports is one of the random points tested.

Every writer process records what tether *acknowledged*: after each ``run.flush()`` that
returned True, it appends ``"<base> <count>"`` to its own ack file and fsyncs it, meaning
rows ``seq = base .. base + count - 1`` were covered by a successful flush. The driver then
reads the run back and compares. A row is keyed by its ``seq`` metric, unique in a trial.

Modes:

* ``loop``: log rows in chunks (``flush()`` after each), from the main process and from
  ``forks`` fork children, until ``max_rows`` per writer or ``max_seconds``, then finish.
  Used by the kill -9, signal, full-disk, online, sync and 32-writer trials.
* ``bad``: one bad-input case of ``BAD_CASES``, between rows that must all survive it.
"""

from __future__ import annotations

import decimal
import json
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# seq of writer ``rank`` (main = 0, fork children 1..n) starts at rank * RANK_BASE.
RANK_BASE = 1_000_000_000
# Bad-input trials: rows seq 0..BEFORE-1 are flushed (acknowledged) before the bad call,
# BEFORE..SAME-1 are logged in the same flush as the bad call, SAME..MIDDLE-1 after it and
# flushed, MIDDLE..AFTER-1 flushed again (a bad input may poison the next flush only).
BEFORE = 100
SAME = 150
MIDDLE = 200
AFTER = 250
BAD_SEQ = 999_999  # the seq carried by the bad row itself, when it has one
FINISH_MARK = "reliability: finish() starting"


# -- acknowledgments ------------------------------------------------------------------------
class AckFile:
    """Appends ``"<base> <count>"`` lines, fsync'd: what this writer's flushes covered."""

    def __init__(self, side: Path, rank: int) -> None:
        self.base = rank * RANK_BASE
        path = side / f"ack-{rank}-{os.getpid()}.txt"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def ack(self, count: int) -> None:
        os.write(self._fd, f"{self.base} {count}\n".encode())
        os.fsync(self._fd)


def read_acks(side: Path) -> list[tuple[int, int]]:
    """``(base, count)`` per writer: the last complete line of each ack file."""
    acks: list[tuple[int, int]] = []
    for path in sorted(side.glob("ack-*.txt")):
        lines = path.read_text().split("\n")[:-1]  # a line cut by a kill has no newline
        if lines:
            base, count = lines[-1].split()
            acks.append((int(base), int(count)))
    return acks


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


# -- loop -----------------------------------------------------------------------------------
def log_rows(run: Any, spec: dict[str, Any], rank: int) -> tuple[int, int]:
    """Log ``{"seq", "x", k0..}`` rows in chunks, flushing after each.

    Returns the rows logged and the number of flushes that returned False.
    """
    side = Path(spec["side"])
    acks = AckFile(side, rank)
    chunk, pause, width = int(spec["chunk"]), float(spec["pause"]), int(spec.get("width", 0))
    max_rows, deadline = int(spec["max_rows"]), time.monotonic() + float(spec["max_seconds"])
    filler, free_at = spec.get("filler"), int(spec.get("free_at", -1))
    extra = [f"k{j}" for j in range(width)]
    logged = failed = 0
    while logged < max_rows and time.monotonic() < deadline:
        for _ in range(min(chunk, max_rows - logged)):
            row = {"seq": acks.base + logged, "x": logged * 0.5}
            for j, key in enumerate(extra):
                row[key] = logged + j * 0.1
            run.log(row)
            logged += 1
            if logged == free_at and filler:
                # Another process frees the disk: what tether kept in memory must now land.
                Path(filler).unlink(missing_ok=True)
        if run.flush():
            acks.ack(logged)
        else:
            failed += 1
        if pause:
            time.sleep(pause)
    return logged, failed


def fork_child(run: Any, spec: dict[str, Any], rank: int) -> None:
    log_rows(run, spec, rank)


def kill_self_after(seconds: float) -> None:
    """SIGKILL this process ``seconds`` from now, whatever it is doing (init() included)."""
    import signal
    import threading

    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGKILL))
    timer.daemon = True
    timer.start()


def mode_loop(spec: dict[str, Any]) -> None:
    import tether

    if spec.get("kill_in_init_s") is not None:
        kill_self_after(float(spec["kill_in_init_s"]))
    run = tether.init(
        project=spec["project"], dir=spec["run_parent"], console="off", mode=spec["mode"]
    )
    context = multiprocessing.get_context("fork")
    children = [
        context.Process(target=fork_child, args=(run, spec, rank))
        for rank in range(1, int(spec["forks"]) + 1)
    ]
    for child in children:
        child.start()
    logged, failed = log_rows(run, spec, 0) if spec.get("main_logs", True) else (0, 0)
    for child in children:
        child.join(float(spec.get("join_s", 120)))
    print(FINISH_MARK, file=sys.stderr, flush=True)
    started = time.monotonic()
    if spec.get("finish", True):
        run.finish()
    finish_s = time.monotonic() - started
    result = {
        "logged": logged,
        "failed_flushes": failed,
        "finish_s": finish_s,
        "run_dir": str(run.dir),
        "run_id": run.id,
    }
    write_json(Path(spec["side"]) / "result.json", result)


# -- bad inputs -----------------------------------------------------------------------------
@dataclass(frozen=True)
class BadCase:
    """One bad input: ``call`` is what receives it (log, config, summary, finish, init)."""

    name: str
    label: str
    call: str
    data: Callable[[], Any] = dict
    step: Callable[[], Any] | None = None
    good: dict[str, Any] = field(default_factory=dict)  # extra keys of the rows around it
    online: bool = False
    exit_code: Callable[[], Any] | None = None


def _mb(n: int) -> str:
    return "x" * (n * 1024 * 1024)


class _Opaque:
    pass


def _numpy_uint64_max() -> Any:
    import numpy

    return numpy.uint64(2**64 - 1)


def _numpy_vector() -> Any:
    import numpy

    return numpy.arange(3.0)


# The cases, and their neighbours. A case is good for tether if it is refused at the
# call with a clear error, or stored and read back exactly; and, either way, every row around
# it is read back.
BAD_CASES: tuple[BadCase, ...] = (
    BadCase("surrogate-value", "lone surrogate in a value", "log",
            lambda: {"name": "bad\udc80"}, good={"name": "ok"}),
    BadCase("surrogate-key", "lone surrogate in a key", "log", lambda: {"k\ud800": 1.0}),
    BadCase("surrogate-nested-key", "lone surrogate in a nested key", "log",
            lambda: {"a": {"b\udc80": 1.0}}),
    BadCase("surrogate-value-online", "lone surrogate in a value, online", "log",
            lambda: {"name": "bad\udc80"}, good={"name": "ok"}, online=True),
    BadCase("nul-value", "NUL character in a value", "log", lambda: {"s": "a\x00b"},
            good={"s": "ok"}),
    BadCase("nul-value-online", "NUL character in a value, online", "log",
            lambda: {"s": "a\x00b"}, good={"s": "ok"}, online=True),
    BadCase("nul-key", "NUL character in a key", "log", lambda: {"a\x00b": 1.0}),
    BadCase("step-2**64", "step=2**64", "log", step=lambda: 2**64),
    BadCase("step-2**64-1", "step=2**64-1", "log", step=lambda: 2**64 - 1),
    BadCase("step-2**63", "step=2**63", "log", step=lambda: 2**63),
    BadCase("step-2**63-online", "step=2**63, online", "log", step=lambda: 2**63, online=True),
    BadCase("step-negative", "step=-1", "log", step=lambda: -1),
    BadCase("step-float", "step=1.5", "log", step=lambda: 1.5),
    BadCase("step-str", "step='3'", "log", step=lambda: "3"),
    BadCase("step-nan", "step=float('nan')", "log", step=lambda: float("nan")),
    BadCase("int-2**64", "int value 2**64", "log", lambda: {"n": 2**64}, good={"n": 1}),
    BadCase("int-2**63", "int value 2**63", "log", lambda: {"n": 2**63}, good={"n": 1}),
    BadCase("int-2**63-online", "int value 2**63, online", "log", lambda: {"n": 2**63},
            good={"n": 1}, online=True),
    BadCase("int-min-1", "int value -2**63-1", "log", lambda: {"n": -(2**63) - 1},
            good={"n": 1}),
    BadCase("int-2**100", "int value 2**100", "log", lambda: {"n": 2**100}, good={"n": 1}),
    BadCase("numpy-uint64-max", "numpy.uint64(2**64-1)", "log",
            lambda: {"n": _numpy_uint64_max()}, good={"n": 1}),
    BadCase("numpy-vector", "numpy array of shape (3,)", "log", lambda: {"v": _numpy_vector()}),
    BadCase("string-20mb", "one 20 MB string", "log", lambda: {"s": _mb(20)}, good={"s": "ok"}),
    BadCase("string-20mb-online", "one 20 MB string, online", "log", lambda: {"s": _mb(20)},
            good={"s": "ok"}, online=True),
    BadCase("key-1mb", "a 1 MB key", "log", lambda: {"k" * 2**20: 1.0}),
    BadCase("collide-slash-first", "{'x/y': 1.0, 'x': {'y': 2.0}}", "log",
            lambda: {"x/y": 1.0, "x": {"y": 2.0}}, good={"x/y": 0.5}),
    BadCase("collide-nested-first", "{'x': {'y': 2.0}, 'x/y': 1.0}", "log",
            lambda: {"x": {"y": 2.0}, "x/y": 1.0}, good={"x/y": 0.5}),
    BadCase("reserved-key", "reserved key '_step'", "log", lambda: {"_step": 1.0}),
    BadCase("empty-key", "empty key ''", "log", lambda: {"": 1.0}),
    BadCase("int-key", "int key 1", "log", lambda: {1: 1.0}),
    BadCase("empty-nested-key", "empty nested key {'a': {'': 1}}", "log",
            lambda: {"a": {"": 1.0}}),
    BadCase("list-value", "list value [1, 2]", "log", lambda: {"v": [1, 2]}),
    BadCase("bytes-value", "bytes value b'x'", "log", lambda: {"v": b"x"}),
    BadCase("object-value", "object() value", "log", lambda: {"v": _Opaque()}),
    BadCase("complex-value", "complex value 1j", "log", lambda: {"v": 1j}),
    BadCase("decimal-value", "Decimal('1.5') value", "log", lambda: {"v": decimal.Decimal("1.5")}),
    BadCase("not-a-dict", "log([1, 2])", "log", lambda: [1, 2]),
    BadCase("nan-inf", "NaN and infinities (valid)", "log",
            lambda: {"a": float("nan"), "b": float("inf"), "c": float("-inf")}),
    BadCase("config-surrogate", "config value with a lone surrogate", "config",
            lambda: {"c": "bad\udc80"}),
    BadCase("config-surrogate-key", "config key with a lone surrogate", "config",
            lambda: {"c\udc80": 1}),
    BadCase("config-int-2**64", "config int 2**64", "config", lambda: {"c": 2**64}),
    BadCase("config-object", "config value object()", "config", lambda: {"c": _Opaque()}),
    BadCase("config-20mb", "config 20 MB string", "config", lambda: {"c": _mb(20)}),
    BadCase("init-config-surrogate", "init(config=) with a lone surrogate", "init",
            lambda: {"c": "bad\udc80"}),
    BadCase("summary-surrogate", "summary value with a lone surrogate", "summary",
            lambda: {"s": "bad\udc80"}),
    BadCase("summary-int-2**64", "summary int 2**64", "summary", lambda: {"s": 2**64}),
    BadCase("finish-exit-2**64", "finish(exit_code=2**64)", "finish",
            exit_code=lambda: 2**64),
    BadCase("finish-exit-str", "finish(exit_code='1')", "finish", exit_code=lambda: "1"),
)  # fmt: skip
CASES_BY_NAME = {case.name: case for case in BAD_CASES}


def good_row(case: BadCase, seq: int) -> dict[str, Any]:
    return {"seq": seq, **case.good}


def bad_call(run: Any, case: BadCase) -> None:
    """Hand the bad input to the call that receives it."""
    if case.call == "log":
        data = case.data()
        if isinstance(data, dict):
            data = {"seq": BAD_SEQ, **data}
        if case.step is None:
            run.log(data)
        else:
            run.log(data, step=case.step())
    elif case.call == "config":
        run.config.update(case.data())
    elif case.call == "summary":
        run.summary.update(case.data())
    elif case.call == "finish":
        assert case.exit_code is not None
        run.finish(exit_code=case.exit_code())
    else:
        raise AssertionError(case.call)


def mode_bad(spec: dict[str, Any]) -> None:
    import tether

    case = CASES_BY_NAME[spec["case"]]
    side = Path(spec["side"])
    acks = AckFile(side, 0)
    init = {"project": spec["project"], "dir": spec["run_parent"], "console": "off"}
    init["mode"] = "online" if case.online else "offline"
    error: str | None = None
    if case.call == "init":
        try:
            run = tether.init(**init, config=case.data())
        except Exception as exc:  # refused: start the run without it, and go on
            error = f"{type(exc).__name__}: {exc}"
            run = tether.init(**init)
    else:
        run = tether.init(**init)
    flushes: list[bool] = []

    def log_good(first: int, last: int) -> None:
        for seq in range(first, last):
            run.log(good_row(case, seq))
        flushed = run.flush()
        flushes.append(flushed)
        if flushed:
            acks.ack(last)

    log_good(0, BEFORE)
    for seq in range(BEFORE, SAME):  # in the same flush as the bad call
        run.log(good_row(case, seq))
    if case.call != "init":
        try:
            bad_call(run, case)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
    if case.call != "finish":
        log_good(SAME, MIDDLE)
        log_good(MIDDLE, AFTER)
    elif error is not None:
        run.finish()  # refused: end the run normally
    print(FINISH_MARK, file=sys.stderr, flush=True)
    started = time.monotonic()
    run.finish()
    result = {
        "error": error,
        "flushes": flushes,
        "finish_s": time.monotonic() - started,
        "run_dir": str(run.dir),
        "run_id": run.id,
        "logged": SAME if case.call == "finish" else AFTER,
    }
    write_json(side / "result.json", result)


def main() -> None:
    mode, spec = sys.argv[1], json.loads(sys.argv[2])
    try:
        {"loop": mode_loop, "bad": mode_bad}[mode](spec)
    except BaseException:
        traceback.print_exc()
        raise


if __name__ == "__main__":
    main()
