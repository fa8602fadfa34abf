"""Processes started while a run records the console join it, whatever their start method.

A fork child inherits the run and gets its own writer (``process.hooks``). A ``spawn`` or
``forkserver`` child starts a fresh interpreter: it joins the run only when it unpickles a
``Run`` or calls ``tether.init()``. A DataLoader worker of the spawn context, a
``ProcessPoolExecutor`` worker or a ``torch.multiprocessing.spawn`` rank that only prints
does neither, so its output would reach the terminal and never the run.

So the first ``init()`` wraps ``multiprocessing.process.BaseProcess.start`` (``import tether``
patches nothing): a process started while a run of this process captures its console gets
its target wrapped in ``AttachFirst``, which joins the run (a writer of its own, console
capture on) before the real target runs. Joining is idempotent (a child that also receives
the ``Run`` joins once), and its failure is a warning: the child then runs as it would have.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tether import _registry

_installed = False


class AttachFirst:
    """A process target that joins a run, then runs the real target (picklable).

    ``join_run`` is the client's function (``_registry.JoinRun``), pickled by reference: the
    child imports the client when it unpickles this target.
    """

    def __init__(
        self,
        target: Callable[..., Any],
        run_dir: str,
        run_id: str,
        console: str,
        join_run: _registry.JoinRun,
    ):
        self.target = target
        self.run_dir = run_dir
        self.run_id = run_id
        self.console = console
        self.join_run = join_run

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            run_dir = Path(self.run_dir)
            if not any(run.dir == run_dir for run in _registry.active_runs()):  # fork: joined
                self.join_run(self.run_dir, self.run_id, None, None, self.console)
        except Exception as exc:  # the child's own work matters more than our capture
            from tether._diagnostics import warn_failure

            warn_failure("attach", f"a child process could not join run {self.run_id} ({exc!r})")
        return self.target(*args, **kwargs)


def follow_started_processes(capturing_run: Callable[[], tuple[str, str, str] | None]) -> None:
    """Install the ``BaseProcess.start`` wrapper once per process.

    ``capturing_run()`` gives ``(run_dir, run_id, console mode)`` of the run that a process
    started now should join, or None.
    """
    global _installed
    if _installed:
        return
    _installed = True
    from multiprocessing import process

    real_start = process.BaseProcess.start

    def start(self: process.BaseProcess) -> None:
        try:
            _wrap_target(self, capturing_run())
        except Exception:
            pass  # never stand between the user and their process
        real_start(self)

    start.__wrapped__ = real_start  # type: ignore[attr-defined]
    process.BaseProcess.start = start  # type: ignore[method-assign]


def _wrap_target(proc: Any, run: tuple[str, str, str] | None) -> None:
    target = getattr(proc, "_target", None)
    join_run = _registry.join_run_function()
    if run is None or target is None or join_run is None or isinstance(target, AttachFirst):
        return
    run_dir, run_id, console = run
    proc._target = AttachFirst(target, run_dir, run_id, console, join_run)
