"""Fault injection against the real tether: is every acknowledged row read back, once?

    python bench/reliability.py --profile ci             # a few trials per family (~2 min)
    python bench/reliability.py --profile full --write   # the published figures
    python bench/reliability.py --only kill9,bad --json out.json

Each trial runs real processes (``_reliability_children.py``) that log rows carrying a unique
``seq``; after every ``run.flush()`` that returned True a writer appends the number of rows
it covered to an fsync'd side file. The driver injects a fault (kill -9, SIGTERM, SIGINT, a
full disk, a dead server, a bad input, a flipped byte), reads the run back with
``tether.load_run`` (and, online, from the server with ``tether.Api``) and counts:

* acknowledged: rows covered by a flush that returned True;
* read back: rows found, by ``seq``;
* lost: acknowledged but not read back (must be 0); duplicated: read more than once.

``--write`` rewrites the generated section of ``docs/reliability.md``. Families: kill9,
kill9-fork, signals, disk, online, sync, writers, bad, corrupt.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _common import REPO, child_env, cpu_model, scratch, table
from _reliability_children import (
    AFTER,
    BAD_CASES,
    BAD_SEQ,
    BEFORE,
    FINISH_MARK,
    MIDDLE,
    SAME,
    BadCase,
    read_acks,
)

CHILDREN = Path(__file__).resolve().parent / "_reliability_children.py"
DOC = REPO / "docs" / "reliability.md"
SECTION = "reliability"
FAMILIES = ("kill9", "kill9-fork", "signals", "disk", "online", "sync", "writers", "bad", "corrupt")
# A trial's child may hang (that would be a finding): past this it is killed and reported.
CHILD_TIMEOUT_S = 180.0
TMPFS_SIZE = "2m"

DOC_INTRO = """# Reliability: what tether keeps when things go wrong

tether's promise is that a row it acknowledged is never lost. This page is the evidence, in
the spirit of [How SQLite Is Tested](https://sqlite.org/testing.html): fault-injection trials
against the real client, file format and server, with the figures of the last run. The
section below the intro is written by `bench/reliability.py --write`; only this intro is
edited by hand.

**Method.** Every trial runs real Python processes (`bench/_reliability_children.py`) that
log rows carrying a unique `seq` metric. A row counts as *acknowledged* once a
`run.flush()` that returned True covered it: after each such flush the writer process
appends its count to a side file and fsyncs it, before doing anything else. The driver
(`bench/reliability.py`) injects one fault per trial, then reads the run back from disk with
`tether.load_run()` (and, for online runs, from the server with `tether.Api`, series by
series so that a duplicate cannot hide), keyed by `seq`:

- **lost** = acknowledged but not read back. This must be 0 everywhere.
- **duplicated** = read back more than once. This must be 0 too.
- Rows that were logged but never acknowledged (the last moments before a `kill -9`) are
  not counted as lost; *read back* above *acknowledged* shows how many came back anyway.

Kill times are random (uniform over the first 1.5 s of the process, so some land during
interpreter start, `import` and `init()`; a further set is killed from inside `init()`).
Process groups are killed as a job scheduler would. A full disk is a 2 MB tmpfs. The server
is a real `tether server` subprocess on 127.0.0.1, killed with SIGKILL and restarted on the
same port. Every bad input of issue #12 (and its neighbours) is handed to the call that
receives it, between rows that must all survive it.

**Not covered.** No trial cuts the power: `flush()` hands the bytes to the operating system
without fsync, so an acknowledged row survives any death of the process, not of the
machine. The kill trials run on a local file system, not NFS.

Reproduce with `python bench/reliability.py --profile full --write` (about 7 minutes here;
root is needed for the tmpfs, without it the disk family is skipped). `--profile ci` runs a
few trials of each family in one to two minutes, and `tests/test_reliability_harness.py`
runs its kill -9 and bad-input families in the test suite.

"""


def progress(message: str) -> None:
    print(f"[reliability {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ============================================================================================
# Profiles and results
# ============================================================================================
@dataclass(frozen=True)
class Profile:
    kill9: int  # trials of kill -9, single process
    kill9_fork: int  # trials of kill -9, main + 4 fork children
    kill9_init: int  # trials of kill -9 during init()
    signal_trials: int  # per (signal, children) pair
    disk_trials: int  # per full-disk variant
    disk_rows: int  # rows logged into a disk that never frees
    online: int  # server kill -9 during an online run
    sync: int  # per interrupted-sync variant
    sync_rows: int
    writers: int
    writer_rows: int
    corrupt: int
    upload_timeout_s: float  # TETHER_UPLOAD_TIMEOUT_S for online children


PROFILES = {
    "ci": Profile(
        kill9=3,
        kill9_fork=3,
        kill9_init=3,
        signal_trials=1,
        disk_trials=1,
        disk_rows=200_000,
        online=1,
        sync=1,
        sync_rows=50_000,
        writers=32,
        writer_rows=500,
        corrupt=3,
        upload_timeout_s=10.0,
    ),
    "full": Profile(
        kill9=100,
        kill9_fork=100,
        kill9_init=50,
        signal_trials=5,
        disk_trials=3,
        disk_rows=200_000,
        online=10,
        sync=5,
        sync_rows=100_000,
        writers=32,
        writer_rows=50_000,
        corrupt=20,
        upload_timeout_s=30.0,
    ),
}


@dataclass
class Tally:
    """The figures every family reports."""

    trials: int = 0
    acked: int = 0
    read: int = 0
    lost: int = 0
    duplicated: int = 0

    def add(self, other: Tally) -> None:
        self.trials += other.trials
        self.acked += other.acked
        self.read += other.read
        self.lost += other.lost
        self.duplicated += other.duplicated


@dataclass
class Family:
    key: str
    title: str
    method: str
    header: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, int] = field(default_factory=dict)  # family-specific, for --json
    seconds: float = 0.0

    def problem(self, message: str) -> None:
        self.problems.append(message)
        progress(f"{self.key}: PROBLEM: {message}")


# ============================================================================================
# Processes: every child in its own session, so a fault (and cleanup) reaches all of its
# fork children and nothing else; every wait has a timeout.
# ============================================================================================
@dataclass
class Trial:
    """One trial's folders: ``run`` holds ./tether, ``side`` the ack files and logs."""

    root: Path

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def side(self) -> Path:
        return self.root / "side"

    def make(self) -> Trial:
        self.run.mkdir(parents=True, exist_ok=True)
        self.side.mkdir(parents=True, exist_ok=True)
        return self

    def result(self) -> dict[str, Any] | None:
        path = self.side / "result.json"
        return json.loads(path.read_text()) if path.exists() else None

    def log_text(self) -> str:
        path = self.side / "child.log"
        return path.read_text(errors="replace") if path.exists() else ""


def trial_env(trial: Trial, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = child_env(trial.side)
    # No login of the machine's user leaks in; online trials pass their server explicitly.
    env["XDG_CONFIG_HOME"] = str(trial.side / "config")
    env.update(extra or {})
    return env


# Every child started, so that an interrupted harness can stop them (by process group).
_started: list[subprocess.Popen[bytes]] = []


def start_child(
    mode: str, spec: dict[str, Any], trial: Trial, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    spec = {"run_parent": str(trial.run), "side": str(trial.side), **spec}
    with open(trial.side / "child.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, str(CHILDREN), mode, json.dumps(spec)],
            cwd=trial.run,
            env=env or trial_env(trial),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _started.append(proc)
    return proc


def signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Signal the child's own process group (its session: the child and its forks)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(b")", 1)[-1].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            members.append(int(entry))
    return members


def wait_child(proc: subprocess.Popen[bytes], timeout: float = CHILD_TIMEOUT_S) -> int | None:
    """Wait for the child and its whole group; None if it hung (then the group is killed)."""
    deadline = time.monotonic() + timeout
    try:
        code: int | None = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
    # Fork children outlive a killed parent by a moment: wait until the group is gone, so
    # nothing is still writing when the run is read back.
    while group_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if code is None or group_members(proc.pid):
        signal_group(proc, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
        return None
    return code


def wait_for_ack(trial: Trial, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> bool:
    """Wait until the child acknowledged its first rows (it is inside its logging loop)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if any(count for _, count in read_acks(trial.side)):
            return True
        time.sleep(0.01)
    return False


def run_cli(
    args: list[str], trial: Trial, env: dict[str, str], timeout: float = CHILD_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """``python -m tether.cli ARGS`` as a user runs it (timeout: reported as rc 124)."""
    try:
        return subprocess.run(
            [sys.executable, "-m", "tether.cli", *args],
            cwd=trial.run,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(exc.cmd, 124, "", f"timed out after {timeout:.0f} s")


# ============================================================================================
# Reading back
# ============================================================================================
@dataclass
class ReadBack:
    seqs: Counter[int] = field(default_factory=Counter)
    runs: list[Any] = field(default_factory=list)  # tether.RunData
    unreadable: list[str] = field(default_factory=list)

    @property
    def states(self) -> list[str]:
        return [run.state for run in self.runs]

    def child_states(self) -> list[str]:
        """Final states recorded by the non-main writers' segments ("none": no final)."""
        return [w.final_state or "none" for run in self.runs for w in run.writers if not w.main]


def read_back(parent: Path) -> ReadBack:
    """Every run under ``parent/tether``, read as a user would, with rows counted by seq."""
    import tether

    back = ReadBack()
    root = parent / "tether"
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for folder in folders:
        try:
            data = tether.load_run(folder)
            history = data.rows()
        except Exception as exc:
            back.unreadable.append(f"{folder.name}: {type(exc).__name__}: {exc}")
            continue
        back.runs.append(data)
        back.seqs.update(row["seq"] for row in history if "seq" in row)
    return back


def count(acks: list[tuple[int, int]], seqs: Counter[int]) -> Tally:
    """One trial's figures: acknowledged rows against the rows read back."""
    acked = sum(n for _, n in acks)
    lost = sum(1 for base, n in acks for seq in range(base, base + n) if seq not in seqs)
    duplicated = sum(c - 1 for c in seqs.values() if c > 1)
    return Tally(trials=1, acked=acked, read=sum(seqs.values()), lost=lost, duplicated=duplicated)


def cols(text: str) -> list[str]:
    """A table header written as ``"a | b | c"``."""
    return [part.strip() for part in text.split("|")]


def fmt_states(states: list[str]) -> str:
    if not states:
        return "-"
    return ", ".join(f"{state} x{n}" for state, n in sorted(Counter(states).items()))


def n(value: float) -> str:
    return f"{value:,.0f}"


# ============================================================================================
# kill -9 at random points
# ============================================================================================
KILL_WINDOW_S = 1.5
# A timer in the child kills it this far into `import tether` + `init()` (about 0.2 s here).
INIT_WINDOW_S = 0.3


def kill9_family(profile: Profile, tmp: Path, rng: random.Random, forks: int) -> Family:
    trials = profile.kill9_fork if forks else profile.kill9
    who = f"main + {forks} fork children, all logging" if forks else "one process"
    method = (
        f"{trials} trials. A child logs `{{seq, x}}` rows in chunks with `flush()` after each "
        f"({who}); at a random moment in the first {KILL_WINDOW_S} s of its life (interpreter "
        "start, import and `init()` included) its whole process group gets SIGKILL."
    )
    if not forks:
        method += (
            f" *During init()*: {profile.kill9_init} more trials where a timer thread in the "
            f"child SIGKILLs it a random 0-{INIT_WINDOW_S} s after it starts `tether.init()`."
        )
    fam = Family(
        key="kill9-fork" if forks else "kill9",
        title=f"kill -9 at a random point ({who})",
        method=method,
        header=cols(
            "when | trials | killed before any ack | acknowledged | read back | lost | "
            "duplicated | runs unreadable | states read"
        ),
    )
    kill9_rows(fam, tmp, forks, [rng.uniform(0.0, KILL_WINDOW_S) for _ in range(trials)], None)
    if not forks:
        delays = [rng.uniform(0.0, INIT_WINDOW_S) for _ in range(profile.kill9_init)]
        kill9_rows(fam, tmp, forks, None, delays)
    return fam


def kill9_rows(
    fam: Family,
    tmp: Path,
    forks: int,
    kill_after: list[float] | None,
    in_init: list[float] | None,
) -> None:
    """Trials killed by the driver (``kill_after`` s from start) or in init (by the child)."""
    delays = kill_after if kill_after is not None else in_init or []
    when = "random" if kill_after is not None else "during init()"
    tally, before_ack, unreadable, states = Tally(), 0, 0, []
    for i, delay in enumerate(delays):
        trial = Trial(tmp / f"{fam.key}-{when[:4]}-{i}").make()
        spec = {
            "project": "rel",
            "mode": "offline",
            "forks": forks,
            "chunk": 200,
            "pause": 0.002,
            "max_rows": 10**9,
            "max_seconds": 60,
            "kill_in_init_s": None if kill_after is not None else delay,
        }
        proc = start_child("loop", spec, trial)
        if kill_after is not None:
            time.sleep(delay)
            signal_group(proc, signal.SIGKILL)
        wait_child(proc, timeout=60)
        acks = read_acks(trial.side)
        back = read_back(trial.run)
        one = count(acks, back.seqs)
        tally.add(one)
        before_ack += one.acked == 0
        unreadable += len(back.unreadable)
        states += back.states
        if one.lost or one.duplicated:
            fam.problem(f"{when} trial {i}: {one.lost} lost, {one.duplicated} duplicated")
        for reason in back.unreadable:
            fam.problem(f"{when} trial {i}: run folder unreadable: {reason}")
        shutil.rmtree(trial.root, ignore_errors=True)
    fam.rows.append(
        [
            when,
            tally.trials,
            before_ack,
            n(tally.acked),
            n(tally.read),
            tally.lost,
            tally.duplicated,
            unreadable,
            fmt_states(states),
        ]
    )
    fam.tally.add(tally)


# ============================================================================================
# SIGTERM and SIGINT
# ============================================================================================
def signals_family(profile: Profile, tmp: Path, rng: random.Random) -> Family:
    fam = Family(
        key="signals",
        title="SIGTERM and SIGINT to the process group",
        method=(
            f"{profile.signal_trials} trial(s) per row. Once the child has acknowledged rows, "
            "a random 0-0.5 s later its process group gets the signal (as `kill -TERM -PGID` "
            "from a scheduler, or Ctrl-C in a terminal). The run should read `killed`, and so "
            "should each fork child's own segment."
        ),
        header=cols(
            "signal | children | trials | acknowledged | read back | lost | duplicated | "
            "run state | children's segments | exit codes"
        ),
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        for forks in (0, 4):
            tally, states, child_states, codes = Tally(), [], [], []
            for i in range(profile.signal_trials):
                trial = Trial(tmp / f"signal-{sig.name}-{forks}-{i}").make()
                spec = {
                    "project": "rel",
                    "mode": "offline",
                    "forks": forks,
                    "chunk": 200,
                    "pause": 0.002,
                    "max_rows": 10**9,
                    "max_seconds": 60,
                }
                proc = start_child("loop", spec, trial)
                if not wait_for_ack(trial, proc):
                    fam.problem(f"{sig.name} trial {i}: the child never acknowledged a row")
                time.sleep(rng.uniform(0.0, 0.5))
                signal_group(proc, sig)
                code = wait_child(proc, timeout=60)
                codes.append("hung" if code is None else str(code))
                back = read_back(trial.run)
                one = count(read_acks(trial.side), back.seqs)
                tally.add(one)
                states += back.states
                child_states += back.child_states()
                if one.lost or one.duplicated:
                    fam.problem(
                        f"{sig.name}, {forks} children, trial {i}: {one.lost} lost, "
                        f"{one.duplicated} duplicated"
                    )
                if back.states != ["killed"]:
                    fam.problem(
                        f"{sig.name}, {forks} children, trial {i}: run reads "
                        f"{back.states}, not killed"
                    )
                if any(s != "killed" for s in back.child_states()):
                    fam.problem(
                        f"{sig.name}, {forks} children, trial {i}: children's "
                        f"segments record {fmt_states(back.child_states())}"
                    )
                shutil.rmtree(trial.root, ignore_errors=True)
            fam.rows.append(
                [
                    sig.name,
                    forks,
                    tally.trials,
                    n(tally.acked),
                    n(tally.read),
                    tally.lost,
                    tally.duplicated,
                    fmt_states(states),
                    fmt_states(child_states) if forks else "-",
                    ", ".join(sorted(set(codes))),
                ]
            )
            fam.tally.add(tally)
    return fam


# ============================================================================================
# A full disk
# ============================================================================================
FILLER_BYTES = 1_800_000
FREE_ROWS = 60_000  # with the filler gone, these fit in the tmpfs
_ROW_COUNT = re.compile(r"\d[\d,]*\s+(rows?|lines?|records?|frames?)\b")


@contextlib.contextmanager
def tmpfs(path: Path) -> Iterator[Path]:
    """A ``TMPFS_SIZE`` tmpfs mounted at ``path`` (root only), always unmounted after."""
    path.mkdir(parents=True, exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(path)]
    subprocess.run(mount, check=True, capture_output=True, timeout=30)
    try:
        yield path
    finally:
        umount = ["umount", str(path)]
        done = subprocess.run(umount, check=False, capture_output=True, timeout=30)
        if done.returncode != 0:  # still busy: detach it now, it goes when released
            subprocess.run([*umount, "-l"], check=False, capture_output=True, timeout=30)


def exit_lines(log: str) -> list[str]:
    """What tether printed from finish() on: the lines after the child's marker."""
    after = log.split(FINISH_MARK, 1)[1] if FINISH_MARK in log else ""
    lines = [line.strip() for line in after.splitlines() if "tether" in line.lower()]
    # A warning prints as "path:line: TetherWarning: message": keep the message.
    return [line.split("TetherWarning: ", 1)[-1] for line in lines]


def is_clear(line: str) -> bool:
    """Does the line say how many rows were not written?"""
    return bool(_ROW_COUNT.search(line)) and "not" in line.lower()


def disk_family(profile: Profile, tmp: Path) -> Family:
    fam = Family(
        key="disk",
        title=f"A full disk ({TMPFS_SIZE.upper()}B tmpfs)",
        method=(
            f"{profile.disk_trials} trial(s) per variant. The run folder is a fresh "
            f"{TMPFS_SIZE.upper()}B tmpfs; the child logs its rows with `flush()` every 1,000 "
            "and acknowledges what succeeded. *Never frees*: "
            f"{profile.disk_rows:,} rows (about twice what fits), ended by `finish()` or by "
            f"the exit hook. *Frees midway*: a {FILLER_BYTES / 1e6:.1f} MB file fills the "
            f"disk and is deleted after half of {FREE_ROWS:,} rows, so every row fits in the "
            "end and all must be read back. *Clear line at exit* asks whether finish()/exit "
            "printed a line giving a number of rows not written."
        ),
        header=cols(
            "variant | trials | logged | acknowledged | read back | lost | not written | "
            "failed flushes | finish() s | clear line at exit | state | exit codes"
        ),
    )
    if os.geteuid() != 0:
        fam.notes.append("Skipped: mounting a tmpfs needs root.")
        return fam
    variants = [
        ("never frees, finish()", profile.disk_rows, True, False),
        ("never frees, exit hook", profile.disk_rows, False, False),
        ("frees midway, finish()", FREE_ROWS, True, True),
    ]
    for label, rows, finish, frees in variants:
        agg = DiskTotals()
        for i in range(profile.disk_trials):
            trial = Trial(tmp / f"disk-{len(fam.rows)}-{i}").make()
            disk_trial(fam, trial, label, rows, finish=finish, frees=frees, agg=agg)
            shutil.rmtree(trial.root, ignore_errors=True)
        fam.rows.append(agg.row(label))
        fam.tally.add(agg.tally)
    return fam


@dataclass
class DiskTotals:
    tally: Tally = field(default_factory=Tally)
    logged: int = 0
    not_written: int = 0
    failed: int = 0
    finish_s: list[float] = field(default_factory=list)
    clear: list[bool] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    def row(self, label: str) -> list[Any]:
        finish = f"{max(self.finish_s):.2f}" if self.finish_s else "-"
        clear = f"{sum(self.clear)} of {len(self.clear)}" if self.clear else "n/a"
        return [
            label,
            self.tally.trials,
            n(self.logged),
            n(self.tally.acked),
            n(self.tally.read),
            self.tally.lost,
            n(self.not_written),
            self.failed,
            finish,
            clear,
            fmt_states(self.states),
            ", ".join(sorted(set(self.codes))),
        ]


def disk_trial(
    fam: Family, trial: Trial, label: str, rows: int, *, finish: bool, frees: bool, agg: DiskTotals
) -> None:
    with tmpfs(trial.root / "mnt") as mnt:
        spec: dict[str, Any] = {
            "run_parent": str(mnt),
            "project": "rel",
            "mode": "offline",
            "forks": 0,
            "chunk": 1000,
            "pause": 0.0,
            "max_rows": rows,
            "max_seconds": 120,
            "finish": finish,
        }
        if frees:
            filler = mnt / "filler.bin"
            filler.write_bytes(b"\0" * FILLER_BYTES)
            spec.update(filler=str(filler), free_at=rows // 2)
        proc = start_child("loop", spec, trial)
        code = wait_child(proc)
        back = read_back(mnt)
    result = trial.result() or {}
    one = count(read_acks(trial.side), back.seqs)
    agg.tally.add(one)
    logged = int(result.get("logged", 0))
    agg.logged += logged
    agg.not_written += max(0, logged - len(back.seqs))
    agg.failed += int(result.get("failed_flushes", 0))
    if "finish_s" in result and finish:
        agg.finish_s.append(float(result["finish_s"]))
    lines = exit_lines(trial.log_text())
    clear = any(map(is_clear, lines))
    if not frees:  # with the disk freed every row is written: there is nothing to tell
        agg.clear.append(clear)
    agg.states += back.states
    agg.codes.append("hung" if code is None else str(code))
    if one.lost or one.duplicated:
        fam.problem(f"{label}: {one.lost} acknowledged rows lost, {one.duplicated} duplicated")
    if frees and len(back.seqs) < logged:
        fam.problem(
            f"{label}: {logged - len(back.seqs):,} of {logged:,} rows never written "
            "although the disk was freed"
        )
    if not frees and not clear:
        fam.problem(
            f"{label}: {logged - len(back.seqs):,} rows not written, and no line at "
            f"exit says so (exit lines: {lines[:2] or 'none'})"
        )
    if lines and not any(note.startswith(f"{label},") for note in fam.notes):
        shown = next(filter(is_clear, lines), lines[-1]).replace(str(mnt), "<tmpfs>")
        fam.notes.append(f"{label}, at exit: `{_one_line(shown)[:240]}`")


# ============================================================================================
# The server: a real `tether server`, killed with SIGKILL and restarted
# ============================================================================================
class Servers:
    """One live server for the families that need it, started on first use."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.server: Any = None  # tether.server.testing.LiveServer

    def get(self) -> Any:
        if self.server is None:
            from tether.server.testing import LiveServer

            progress("starting tether server")
            self.server = LiveServer(self.tmp / "server-data").start(timeout=120)
        return self.server

    def kill_and_restart(self, down_s: float) -> float:
        """SIGKILL the server, leave it down ``down_s``, start it on the same port."""
        server = self.get()
        server.stop(kill=True)
        time.sleep(down_s)
        started = time.monotonic()
        server.start(timeout=120)
        return time.monotonic() - started

    def env(self, trial: Trial, upload_timeout_s: float) -> dict[str, str]:
        server = self.get()
        return trial_env(
            trial,
            {
                "TETHER_BASE_URL": server.base_url,
                "TETHER_API_KEY": server.api_key,
                "TETHER_UPLOAD_TIMEOUT_S": str(upload_timeout_s),
            },
        )

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@dataclass
class Remote:
    seqs: Counter[int]
    state: str


def server_rows(servers: Servers, project: str, run_id: str) -> Remote:
    """Every ``seq`` the server stores for the run, counted (duplicates included)."""
    from tether.api import Api
    from tether.errors import RunNotFoundError
    from tether.sync.http import NotOnServerError

    server = servers.get()
    seqs: Counter[int] = Counter()
    with Api(server.base_url, server.api_key) as api:
        try:
            state = api.run(f"{project}/{run_id}").state
            # The raw series, not RemoteRun.history(): its DataFrame merges rows that share
            # (writer, step, time), which would hide a duplicate.
            path = f"/projects/{project}/runs/{run_id}/history"
            answer = api.client.get_json(path, {"keys": "seq"})
        except (NotOnServerError, RunNotFoundError):
            return Remote(seqs, "absent on the server")
    for series in answer.get("series", []):
        seqs.update(int(v) for v in series["values"] if v is not None)
    return Remote(seqs, state)


def sync_json(trial: Trial, env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    done = run_cli(["sync", "--json", str(trial.run)], trial, env)
    try:
        return done.returncode, json.loads(done.stdout)
    except ValueError:
        return done.returncode, {"error": (done.stderr or done.stdout)[-300:]}


def local_run_ids(back: ReadBack) -> list[str]:
    return [run.id for run in back.runs]


def online_family(profile: Profile, tmp: Path, rng: random.Random, servers: Servers) -> Family:
    fam = Family(
        key="online",
        title="Server kill -9 during online runs",
        method=(
            f"{profile.online} trial(s). An online run (alternately 0 and 2 fork children) "
            "logs for 4 s; at a random moment the server gets SIGKILL, stays down 0.1-1 s and "
            "is restarted on the same port. After the run ends, `tether sync` sends what the "
            "uploader could not; the rows on the server are counted by seq."
        ),
        header=cols(
            "trials | acknowledged | read back (disk) | lost (disk) | on server | "
            "lost (server) | duplicated (server) | server state | finish() s (max) | "
            "sync exit codes"
        ),
    )
    tally, on_server, lost_server, dup_server = Tally(), 0, 0, 0
    states, finish_s, sync_codes = [], [], []
    for i in range(profile.online):
        trial = Trial(tmp / f"online-{i}").make()
        env = servers.env(trial, profile.upload_timeout_s)
        spec = {
            "project": "rel-online",
            "mode": "online",
            "forks": 2 * (i % 2),
            "chunk": 50,
            "pause": 0.01,
            "max_rows": 10**9,
            "max_seconds": 4.0,
        }
        proc = start_child("loop", spec, trial, env)
        wait_for_ack(trial, proc)
        time.sleep(rng.uniform(0.0, 2.5))
        servers.kill_and_restart(rng.uniform(0.1, 1.0))
        code = wait_child(proc)
        if code != 0:
            fam.problem(f"trial {i}: the online child exited {code}")
        finish_s.append(float((trial.result() or {}).get("finish_s", math.nan)))
        sync_code, _ = sync_json(trial, servers.env(trial, profile.upload_timeout_s))
        sync_codes.append(str(sync_code))
        back = read_back(trial.run)
        acks = read_acks(trial.side)
        one = count(acks, back.seqs)
        tally.add(one)
        for run_id in local_run_ids(back):
            remote = server_rows(servers, "rel-online", run_id)
            states.append(remote.state)
            far = count(acks, remote.seqs)
            on_server += far.read
            lost_server += far.lost
            dup_server += far.duplicated
            if far.lost or far.duplicated:
                fam.problem(f"trial {i}: server lacks {far.lost}, duplicates {far.duplicated}")
        if one.lost:
            fam.problem(f"trial {i}: {one.lost} acknowledged rows lost on disk")
        shutil.rmtree(trial.root, ignore_errors=True)
    finish = max(finish_s) if finish_s else math.nan
    fam.rows.append(
        [
            tally.trials,
            n(tally.acked),
            n(tally.read),
            tally.lost,
            n(on_server),
            lost_server,
            dup_server,
            fmt_states(states),
            f"{finish:.2f}",
            ", ".join(sorted(set(sync_codes))),
        ]
    )
    fam.tally = Tally(tally.trials, tally.acked, on_server, tally.lost + lost_server, dup_server)
    return fam


def sync_family(profile: Profile, tmp: Path, rng: random.Random, servers: Servers) -> Family:
    window = sync_kill_window(profile.sync_rows)
    fam = Family(
        key="sync",
        title="Interrupted `tether sync`",
        method=(
            f"{profile.sync} trial(s) per variant. An offline run of {profile.sync_rows:,} "
            f"rows x 12 keys is synced; {window[0]}-{window[1]:.1f} s after `tether sync` "
            "connects to the server, either the server or the `tether sync` process gets "
            "SIGKILL. Then the "
            "server is (re)started and `tether sync` runs again. *Kept* is what the server "
            "had of the run after the interruption, *over-sent* what the second sync sent "
            "beyond what the server lacked, both as shares of the run's bytes."
        ),
        header=cols(
            "killed | trials | interrupted | rows on disk | on server | lost | duplicated | "
            "kept | over-sent | server state"
        ),
    )
    for victim in ("server", "sync"):
        tally, interrupted, kept, over, states = Tally(), 0, [], [], []
        for i in range(profile.sync):
            trial = Trial(tmp / f"sync-{victim}-{i}").make()
            spec = {
                "project": "rel-sync",
                "mode": "offline",
                "forks": 0,
                "chunk": 5000,
                "pause": 0.0,
                "max_rows": profile.sync_rows,
                "max_seconds": 300,
                "width": 10,
            }
            made = wait_child(start_child("loop", spec, trial))
            if made != 0:
                fam.problem(f"{victim} trial {i}: the run to sync exited {made}")
            env = servers.env(trial, profile.upload_timeout_s)
            outcome = interrupted_sync(trial, env, servers, victim, rng.uniform(*window))
            if outcome.interrupted:
                interrupted += 1
                kept.append(outcome.kept / outcome.total)
                over.append(outcome.over_sent / outcome.total)
            back = read_back(trial.run)
            acks = read_acks(trial.side)
            for run_id in local_run_ids(back):
                remote = server_rows(servers, "rel-sync", run_id)
                states.append(remote.state)
                far = count(acks, remote.seqs)
                tally.add(far)
                if far.lost or far.duplicated:
                    fam.problem(
                        f"{victim} killed, trial {i}: server lacks {far.lost}, "
                        f"duplicates {far.duplicated}"
                    )
            shutil.rmtree(trial.root, ignore_errors=True)
        fam.rows.append(
            [
                victim,
                tally.trials,
                interrupted,
                n(tally.acked),
                n(tally.read),
                tally.lost,
                tally.duplicated,
                _shares(kept),
                _shares(over),
                fmt_states(states),
            ]
        )
        fam.tally.add(tally)
    return fam


def sync_kill_window(rows: int) -> tuple[float, float]:
    # From the sync's first connection to the server; it sends ~45,000 of these rows a second
    # here, so most kills land while the upload is under way.
    return 0.0, rows / 80_000


def connected_to(pid: int, port: int) -> bool:
    """Does process ``pid`` hold a TCP connection to ``port`` (on loopback)?"""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    inodes = set()
    for fd in fds:
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    for table_path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table_path).read_text().splitlines()[1:]:
                fields = line.split()
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                if remote_port == port and fields[9] in inodes:
                    return True
    return False


def wait_connected(proc: subprocess.Popen[bytes], port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if connected_to(proc.pid, port):
            return
        time.sleep(0.005)


def _shares(values: list[float]) -> str:
    if not values:
        return "-"
    values = sorted(values)
    return f"median {values[len(values) // 2]:.0%} (max {values[-1]:.0%})"


@dataclass
class SyncOutcome:
    interrupted: bool  # the first sync did not complete
    total: int  # bytes of the run's segments
    kept: int  # bytes the server had after the interruption
    over_sent: int  # bytes the second sync sent beyond what the server lacked


def interrupted_sync(
    trial: Trial, env: dict[str, str], servers: Servers, victim: str, delay: float
) -> SyncOutcome:
    """Sync, SIGKILL ``victim`` (server or sync) after ``delay`` s, then sync again."""
    command = [sys.executable, "-m", "tether.cli", "sync", "-q", str(trial.run)]
    with open(trial.side / "sync.log", "ab") as log:
        proc = subprocess.Popen(
            command,
            cwd=trial.run,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _started.append(proc)
    wait_connected(proc, servers.get().port)
    time.sleep(delay)
    if victim == "server":
        servers.get().stop(kill=True)
    else:
        signal_group(proc, signal.SIGKILL)
    first = wait_child(proc)
    if victim == "server":
        servers.get().start(timeout=120)
    segments = list(trial.run.glob("tether/*/segments/*.tseg"))
    total = sum(p.stat().st_size for p in segments)
    run_ids = {layout_run_id(p.parent.parent) for p in segments}
    kept = settled_offsets(servers, "rel-sync", run_ids)
    _code, report = sync_json(trial, env)
    over = int(report.get("bytes", 0)) - (total - kept)
    return SyncOutcome(interrupted=first != 0, total=max(total, 1), kept=kept, over_sent=over)


def layout_run_id(run_dir: Path) -> str:
    from tether.store import layout

    return layout.run_id_of(run_dir)


def settled_offsets(servers: Servers, project: str, run_ids: set[str]) -> int:
    """What the server kept, once it has finished the requests in flight when the client died."""
    kept, deadline = -1, time.monotonic() + 30
    while time.monotonic() < deadline:
        now = sum(server_offsets(servers, project, run_id) for run_id in run_ids)
        if now == kept:
            break
        kept = now
        time.sleep(0.5)
    return kept


def server_offsets(servers: Servers, project: str, run_id: str) -> int:
    """Bytes of the run's segments the server has stored (0 if it has not seen the run)."""
    from tether.api import Api
    from tether.sync.http import NotOnServerError

    server = servers.get()
    with Api(server.base_url, server.api_key) as api:
        try:
            answer = api.client.get_json(f"/projects/{project}/runs/{run_id}/segments")
        except NotOnServerError:
            return 0
    return sum(int(item.get("offset", 0)) for item in answer.values())


# ============================================================================================
# 32 writers
# ============================================================================================
def writers_family(profile: Profile, tmp: Path) -> Family:
    rows = profile.writer_rows
    fam = Family(
        key="writers",
        title=f"{profile.writers} writer processes",
        method=(
            f"One run; {profile.writers} fork children each log {rows:,} rows (flush every "
            "1,000) while the main process waits, then finishes. Every row must be read back "
            "exactly once."
        ),
        header=cols(
            "writers | rows each | acknowledged | read back | lost | duplicated | "
            "present exactly once | segments | run state | seconds"
        ),
    )
    trial = Trial(tmp / "writers").make()
    spec = {
        "project": "rel",
        "mode": "offline",
        "forks": profile.writers,
        "chunk": 1000,
        "pause": 0.0,
        "max_rows": rows,
        "max_seconds": 1200,
        "main_logs": False,
        "join_s": 1200,
    }
    started = time.monotonic()
    code = wait_child(start_child("loop", spec, trial), timeout=1500)
    seconds = time.monotonic() - started
    if code != 0:
        fam.problem(f"the child exited {code}")
    back = read_back(trial.run)
    one = count(read_acks(trial.side), back.seqs)
    expected = {r * 1_000_000_000 + i for r in range(1, profile.writers + 1) for i in range(rows)}
    once = sum(1 for seq in expected if back.seqs.get(seq) == 1)
    segments = sum(len(run.writers) for run in back.runs)
    if one.lost or one.duplicated or once != len(expected):
        fam.problem(
            f"{one.lost} lost, {one.duplicated} duplicated, "
            f"{len(expected) - once} not present exactly once"
        )
    fam.rows.append(
        [
            profile.writers,
            n(rows),
            n(one.acked),
            n(one.read),
            one.lost,
            one.duplicated,
            f"{once:,} of {len(expected):,}",
            segments,
            fmt_states(back.states),
            f"{seconds:.1f}",
        ]
    )
    fam.tally = one
    shutil.rmtree(trial.root, ignore_errors=True)
    return fam


# ============================================================================================
# Bad inputs
# ============================================================================================
def bad_family(profile: Profile, tmp: Path, servers: Servers) -> Family:
    fam = Family(
        key="bad",
        title="Bad inputs",
        method=(
            f"One process per case. Rows seq 0-{BEFORE - 1} are logged and flushed "
            f"(acknowledged), {BEFORE}-{SAME - 1} are logged, then the bad input is handed "
            f"to the call named, then {SAME}-{MIDDLE - 1} and {MIDDLE}-{AFTER - 1} are logged "
            "and flushed (two flushes: a bad input may spoil only the next), and the run "
            "finishes. *Around it* counts those good rows read back (after `finish()`; online, "
            "after `tether sync` too, on the server). A case passes if the call refused the "
            "input with an error, or stored it exactly as given, and either way every good "
            "row around it was read back."
        ),
        header=cols(
            "case | call | refused with | acknowledged | around it: read back | lost (acked) | "
            "bad value stored | finish() s | verdict"
        ),
    )
    numpy_ok = _has_numpy()
    for case in BAD_CASES:
        if case.name.startswith("numpy") and not numpy_ok:
            fam.notes.append(f"{case.name}: skipped (numpy not installed)")
            continue
        trial = Trial(tmp / f"bad-{case.name}").make()
        bad_trial(fam, trial, case, profile, servers)
        shutil.rmtree(trial.root, ignore_errors=True)
    return fam


def _has_numpy() -> bool:
    import importlib.util

    return importlib.util.find_spec("numpy") is not None


def bad_trial(fam: Family, trial: Trial, case: BadCase, profile: Profile, servers: Servers) -> None:
    env = servers.env(trial, profile.upload_timeout_s) if case.online else trial_env(trial)
    spec = {"project": "rel-bad", "case": case.name}
    code = wait_child(start_child("bad", spec, trial, env))
    result = trial.result() or {}
    back = read_back(trial.run)
    acks = read_acks(trial.side)
    logged = int(result.get("logged", SAME if case.call == "finish" else AFTER))
    where = "on disk"
    seqs = back.seqs
    if case.online:
        sync_json(trial, env)
        run_id = str(result.get("run_id", ""))
        remote = server_rows(servers, "rel-bad", run_id) if run_id else Remote(Counter(), "?")
        seqs, where = remote.seqs, f"on server ({remote.state})"
    one = count(acks, seqs)
    around = sum(1 for seq in range(logged) if seqs.get(seq))
    missing = fam.figures.get("good_rows_missing", 0) + logged - around
    fam.figures["good_rows_missing"] = missing
    error = result.get("error")
    stored = stored_form(case, back, error)
    if code != 0 or not result:
        verdict = f"**child exited {code}**"
    elif around < logged:
        verdict = f"**LOSS: {logged - around} of {logged} good rows {where} missing**"
    elif error is not None or stored == "exactly":
        verdict = "ok"
    else:
        verdict = f"**accepted, {stored}**"
    if verdict != "ok":
        fam.problem(f"{case.name}: {verdict.strip('*')}")
    refused = error.split(":", 1)[0] if error else "-"
    finish_s = float(result.get("finish_s", math.nan))
    fam.rows.append(
        [
            f"{case.label}",
            case.call,
            refused,
            one.acked,
            f"{around} of {logged}",
            one.lost,
            stored,
            f"{finish_s:.2f}",
            verdict,
        ]
    )
    if error:
        fam.notes.append(f"{case.label}: `{_one_line(error)[:200]}`")
    fam.tally.add(one)


def _one_line(text: str) -> str:
    """``text`` fit for one markdown line (and for UTF-8: a lone surrogate is escaped)."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return " ".join(text.split()).replace("`", "'")


def stored_form(case: BadCase, back: ReadBack, error: str | None) -> str:
    """How the bad value itself came back: "exactly", "-" (refused) or what went wrong."""
    if error is not None:
        return "-"
    if len(back.runs) != 1:
        return f"{len(back.runs)} runs read"
    run = back.runs[0]
    if case.call == "finish":
        expected = case.exit_code() if case.exit_code else None
        return "exactly" if run.exit_code == expected else f"exit code {run.exit_code!r}"
    if case.call in ("config", "init"):
        return _compare(case.data(), run.config)
    if case.call == "summary":
        return _compare(case.data(), run.summary)
    rows = [row for row in run.rows() if row.get("seq") == BAD_SEQ]
    if not rows:
        return "row dropped"
    if case.step is not None:
        return "exactly" if rows[0]["_step"] == case.step() else f"step {rows[0]['_step']!r}"
    return _compare(_flat(case.data()), rows[0])


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    """The flat form a faithful store would keep; a collision keeps a marker no read equals."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            inner = _flat(value, full + "/")
            for k, v in inner.items():
                out[k] = _COLLISION if k in out else v
        else:
            out[full] = _COLLISION if full in out else _plain(value)
    return out


_COLLISION = object()


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) and type(value).__module__.startswith("numpy") else value


def _compare(expected: dict[str, Any], got: dict[str, Any]) -> str:
    for key, value in expected.items():
        if key not in got:
            return f"key {_short(key)} dropped"
        if value is _COLLISION:
            return f"keys collide, kept {_short(got[key])}"
        if not _same(value, got[key]):
            return f"{_short(key)} read as {_short(got[key])}"
    return "exactly"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _short(value: Any) -> str:
    text = repr(value)
    return (text[:30] + "…") if len(text) > 30 else text


# ============================================================================================
# A flipped byte
# ============================================================================================
def corrupt_family(profile: Profile, tmp: Path, rng: random.Random) -> Family:
    fam = Family(
        key="corrupt",
        title="One flipped byte in a segment",
        method=(
            f"{profile.corrupt} trials. In a finished run of 20,000 rows (about 100 frames), "
            "one byte at a random offset of its segment is inverted (and restored after). "
            "The rows of the damaged frame are gone by definition; every other row should be "
            "read back. *Acknowledged* counts the rows outside the damaged frame, *lost* those "
            "of them not read back."
        ),
        header=cols(
            "trials | rows in damaged frames | acknowledged (other frames) | read back | lost | "
            "duplicated | median read back"
        ),
    )
    source = Trial(tmp / "corrupt-source").make()
    spec = {
        "project": "rel",
        "mode": "offline",
        "forks": 0,
        "chunk": 200,
        "pause": 0.0,
        "max_rows": 20_000,
        "max_seconds": 120,
    }
    if wait_child(start_child("loop", spec, source)) != 0:
        fam.problem("the source run could not be made")
        return fam
    [segment] = source.run.glob("tether/*/segments/*.tseg")
    original = segment.read_bytes()
    frames = frame_rows(original)
    total = sum(rows for _, _, rows in frames)
    tally, damaged_rows, reads = Tally(), 0, []
    for i in range(profile.corrupt):
        offset = rng.randrange(8, len(original))
        damaged = bytearray(original)
        damaged[offset] ^= 0xFF
        segment.write_bytes(bytes(damaged))
        in_frame = next((rows for start, end, rows in frames if start <= offset < end), 0)
        back = read_back(source.run)
        got = len(back.seqs)
        one = Tally(
            1,
            total - in_frame,
            sum(back.seqs.values()),
            max(0, total - in_frame - got),
            sum(c - 1 for c in back.seqs.values() if c > 1),
        )
        tally.add(one)
        damaged_rows += in_frame
        reads.append(got)
        if one.lost:
            fam.problem(
                f"trial {i}: byte {offset:,} of {len(original):,} flipped: {got:,} of "
                f"{total - in_frame:,} undamaged rows read back"
            )
    segment.write_bytes(original)
    median = sorted(reads)[len(reads) // 2] if reads else 0
    fam.rows.append(
        [
            tally.trials,
            n(damaged_rows),
            n(tally.acked),
            n(tally.read),
            n(tally.lost),
            tally.duplicated,
            f"{median:,} of {total:,}",
        ]
    )
    fam.tally = tally
    shutil.rmtree(source.root, ignore_errors=True)
    return fam


def frame_rows(data: bytes) -> list[tuple[int, int, int]]:
    """``(start, end, rows)`` of each frame of a segment: its byte range and its row count."""
    from tether.store import format as fmt

    out = []
    offset = len(fmt.MAGIC)
    for frame in fmt.scan_frames(data).frames:
        length, _crc = fmt.FRAME_HEADER.unpack_from(data, offset)
        end = offset + fmt.FRAME_HEADER.size + length
        rows = sum(
            len(r[2]) if r[0] == fmt.K_ROWS else 1 if r[0] == fmt.K_ROW else 0
            for r in frame.records
        )
        out.append((offset, end, rows))
        offset = end
    return out


# ============================================================================================
# Report
# ============================================================================================
def git_commit() -> str:
    """The commit of the tether that was tested: the checkout its package was imported from."""
    import tether

    source = Path(tether.__file__).resolve().parent

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=source, capture_output=True, text=True, timeout=30, check=False
        )
        return done.stdout.strip()

    commit = git("rev-parse", "--short=10", "HEAD")
    if not commit:
        return f"unknown: tether imported from {source}, not a git checkout"
    dirty = git("status", "--porcelain", "--", ".")
    return commit + (" (with uncommitted changes in src/tether)" if dirty else "")


def headline(families: list[Family]) -> Tally:
    total = Tally()
    for fam in families:
        total.add(fam.tally)
    return total


def render(families: list[Family], argv: list[str], profile_name: str, wall: float) -> str:
    total = headline(families)
    now = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        f"Run `python bench/reliability.py {' '.join(argv)}` on {now} (profile `{profile_name}`,"
        f" {wall / 60:.1f} min): tether commit `{git_commit()}`, {cores} cores ({cpu_model()}),"
        f" Python {sys.version.split()[0]}. The machine is shared with other work.",
        "",
        "## Summary",
        "",
        table(
            ["family", "trials", "acknowledged", "read back", "lost", "duplicated", "problems"],
            [
                [
                    f.title,
                    f.tally.trials,
                    n(f.tally.acked),
                    n(f.tally.read),
                    f.tally.lost,
                    f.tally.duplicated,
                    len(f.problems),
                ]
                for f in families
            ]
            + [
                [
                    "**all**",
                    total.trials,
                    n(total.acked),
                    n(total.read),
                    f"**{total.lost}**",
                    f"**{total.duplicated}**",
                    sum(len(f.problems) for f in families),
                ]
            ],
        ),
    ]
    for fam in families:
        lines += ["", f"## {fam.title}", "", fam.method, ""]
        if fam.rows:
            lines.append(table(fam.header, fam.rows))
        if fam.problems:
            lines += ["", "Problems seen:", ""] + [f"- {p}" for p in fam.problems]
        if fam.notes:
            lines += ["", "Notes:", ""] + [f"- {note}" for note in fam.notes]
    return "\n".join(lines) + "\n"


def write_doc(body: str) -> None:
    """Replace the generated section of docs/reliability.md; the intro above it is kept."""
    start, end = f"<!-- {SECTION} -->", f"<!-- /{SECTION} -->"
    text = DOC.read_text() if DOC.exists() else DOC_INTRO
    block = f"{start}\n{body.strip()}\n{end}"
    if start in text and end in text:
        text = text.split(start, 1)[0] + block + text.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)


def run_families(names: list[str], profile: Profile, seed: int) -> list[Family]:
    rng = random.Random(seed)
    families: list[Family] = []
    with scratch("reliability") as tmp:
        servers = Servers(tmp)
        runners: dict[str, Callable[[], Family]] = {
            "kill9": lambda: kill9_family(profile, tmp, rng, forks=0),
            "kill9-fork": lambda: kill9_family(profile, tmp, rng, forks=4),
            "signals": lambda: signals_family(profile, tmp, rng),
            "disk": lambda: disk_family(profile, tmp),
            "online": lambda: online_family(profile, tmp, rng, servers),
            "sync": lambda: sync_family(profile, tmp, rng, servers),
            "writers": lambda: writers_family(profile, tmp),
            "bad": lambda: bad_family(profile, tmp, servers),
            "corrupt": lambda: corrupt_family(profile, tmp, rng),
        }
        try:
            for name in names:
                progress(f"{name}: running")
                started = time.monotonic()
                try:
                    fam = runners[name]()
                except Exception:  # a harness failure: reported, and the other families run
                    fam = Family(key=name, title=name, method="", header=[])
                    fam.figures["harness_failed"] = 1
                    fam.problem(f"the harness failed: {traceback.format_exc()[-1500:]}")
                fam.seconds = time.monotonic() - started
                families.append(fam)
                progress(
                    f"{name}: {fam.tally} in {fam.seconds:.1f} s, {len(fam.problems)} problem(s)"
                )
        finally:
            servers.close()
            for proc in _started:  # interrupted: no child of ours outlives the run
                if proc.poll() is None:
                    signal_group(proc, signal.SIGKILL)
    return families


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="ci")
    parser.add_argument(
        "--only",
        default=",".join(FAMILIES),
        help=f"comma-separated families ({','.join(FAMILIES)})",
    )
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--write", action="store_true", help="rewrite docs/reliability.md")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(names) - set(FAMILIES))
    if unknown:
        parser.error(f"unknown families {unknown}; choose from {', '.join(FAMILIES)}")
    started = time.monotonic()
    families = run_families(names, PROFILES[args.profile], args.seed)
    wall = time.monotonic() - started
    report = render(families, sys.argv[1:], args.profile, wall)
    print(report)
    if args.write:
        write_doc(report)
        progress(f"wrote {DOC}")
    if args.json:
        data = {
            "profile": args.profile,
            "seconds": wall,
            "total": asdict(headline(families)),
            "families": {
                f.key: {**asdict(f.tally), **f.figures, "problems": f.problems} for f in families
            },
        }
        args.json.write_text(json.dumps(data, indent=2))
    if any(f.figures.get("harness_failed") for f in families):
        sys.exit(2)


if __name__ == "__main__":
    main()
