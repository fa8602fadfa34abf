"""The system sampler: one daemon thread per host writing a ``K_SYSTEM`` record per sample.

Who samples (``samples_here``): the process that created the run, or local rank 0 under a
launcher; never a fork child, a DataLoader worker or a spawned child that attached. Under
torchrun the tree measured is the agent's (every local rank and its workers); otherwise the
sampling process's own.

The first sample is taken at once, then one every ``interval`` seconds. Each sample is three
independent parts (process tree, host, GPUs): a part that fails is left out of that sample,
the others are still written, and each kind of failure is said once per sampler through
``warn_failure``. ``stop()`` only sets an event and waits a few milliseconds: it never
delays ``finish()``; a sample under way when the run ends is dropped. Whatever happens on
the thread (psutil errors, NVML errors, the thread itself being killed) stays on it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from tether._diagnostics import warn_failure
from tether._threads import Flag, start_without_signals
from tether.store import format as fmt
from tether.system.forks import no_fork
from tether.system.nvml import QUIET_ERRORS, NvmlSource

DEFAULT_INTERVAL_S: Final = 10.0
STOP_JOIN_S: Final = 0.005

Emit = Callable[[list[Any]], None]
_WHAT: Final = {
    "tree": "the process tree's metrics",
    "host": "the host's metrics",
    "gpu": "the GPUs' metrics",
}


def samples_here(*, owner: bool, environ: Mapping[str, str] | None = None) -> bool:
    """Does this process sample for its host? ``owner``: it created the run.

    The creating process samples unless a launcher made it a rank other than local rank 0
    (per-rank runs with ``group=``: one sampler per host still). A process that attached
    samples only as local rank 0 of a launcher on a host other than the creator's.
    """
    env = os.environ if environ is None else environ
    local_rank = env.get("LOCAL_RANK", "").strip()
    if owner:
        return local_rank in ("", "0")
    return local_rank == "0" and env.get("RANK", "0").strip() != "0"


def tree_root(environ: Mapping[str, str] | None = None) -> int:
    """The pid whose tree is the job: torchrun's agent under torchrun, else this process."""
    env = os.environ if environ is None else environ
    if "TORCHELASTIC_RUN_ID" in env and "LOCAL_RANK" in env:
        parent = os.getppid()
        if parent > 1:
            return parent
    return os.getpid()


class Sampler:
    """Samples the process tree, the host and the GPUs every ``interval`` seconds.

    ``emit`` takes each ``[K_SYSTEM, time, {metric: number}]`` record (a writer's
    ``append``). ``root_pid`` is the tree's root, ``disk_path`` a path on the filesystem to
    report on, ``gpu_source`` the NVML to ask (the real one by default).
    """

    def __init__(
        self,
        emit: Emit,
        *,
        interval: float = DEFAULT_INTERVAL_S,
        disk_path: Path,
        root_pid: int | None = None,
        gpu_source: NvmlSource | None = None,
        visible_devices: str | None = None,
    ) -> None:
        self._emit = emit
        self.interval = interval
        self._disk_path = disk_path
        self._root_pid = os.getpid() if root_pid is None else root_pid
        self._gpu_source = gpu_source
        self._visible = visible_devices
        self._stop = Flag()
        self._thread: threading.Thread | None = None
        self._warned: set[str] = set()
        self.samples = 0

    def start(self) -> None:
        """Start the thread (idempotent)."""
        if self._thread is not None:
            return
        thread = threading.Thread(target=self._run, name="tether-system", daemon=True)
        self._thread = thread
        start_without_signals(thread)

    def stop(self) -> None:
        """Stop sampling; returns within a few milliseconds whatever the thread is doing."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_JOIN_S)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        parts: dict[str, Any] = {}
        try:
            parts = self._parts()
            while not self._stop.is_set():
                metrics = self._sample(parts)
                if metrics and not self._stop.is_set():
                    self._emit([fmt.K_SYSTEM, time.time(), metrics])
                    self.samples += 1
                if self._stop.wait(self.interval):
                    break
        except BaseException as exc:  # killed, or a bug of ours: the user's process goes on
            self._warn("system", f"system metrics stopped ({exc!r})")
        finally:
            gpu = parts.get("gpu")
            if gpu is not None:
                try:
                    gpu.close()
                except Exception:
                    pass

    def _parts(self) -> dict[str, Any]:
        """What can be measured here: ``tree``, ``host``, ``gpu``, each asked every sample."""
        with no_fork():  # imports and NVML's start take locks a fork child must not inherit
            return self._make_parts()

    def _make_parts(self) -> dict[str, Any]:
        try:
            import psutil

            from tether.system.host import HostStats
            from tether.system.process_tree import ProcessTree
        except ImportError as exc:
            self._warn("system-psutil", f"no system metrics: psutil cannot be imported ({exc})")
            return {}
        parts: dict[str, Any] = {}
        try:
            parts["tree"] = ProcessTree(self._root_pid)
        except psutil.Error as exc:
            self._warn("system-tree", f"no process metrics: process {self._root_pid} ({exc!r})")
        parts["host"] = HostStats(self._disk_path)
        from tether.system.gpu import GpuReader

        gpu = GpuReader(self._gpu_source, visible=self._visible)
        if gpu.start():
            parts["gpu"] = gpu
        elif gpu.start_error not in QUIET_ERRORS:
            self._warn("system-gpu", f"no GPU metrics: NVML could not start ({gpu.start_error})")
        return parts

    def _sample(self, parts: dict[str, Any]) -> dict[str, float]:
        now = time.time()
        metrics: dict[str, float] = {}
        tree_pids: list[int] = []
        for kind, part in parts.items():  # the tree first: the GPU part needs its pids
            try:
                if kind == "gpu":
                    with no_fork():  # NVML holds its own lock during a call
                        metrics.update(part.sample(tree_pids))
                else:
                    metrics.update(part.sample(now))
                    if kind == "tree":
                        tree_pids = part.pids
            except Exception as exc:
                self._warn(f"system-{kind}", f"could not read {_WHAT[kind]} ({exc!r})")
        return metrics

    def _warn(self, kind: str, message: str) -> None:
        # Once per kind and sampler: a failure that repeats every sample is said once.
        if kind in self._warned:
            return
        self._warned.add(kind)
        warn_failure(kind, message)
