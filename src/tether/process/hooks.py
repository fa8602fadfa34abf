"""How a process becomes a writer of a run: fork children, spawned children, labels.

* **Fork.** ``os.register_at_fork`` calls ``_after_fork_in_child`` in every fork child before
  user code runs there; each run that was active in the parent gets a brand-new writer (own
  segment, buffer, locks; its thread starts on first use). Nothing of the parent's writer,
  thread or process handle is ever touched from the child.
* **Spawn.** ``init()`` exports the run directory in ``TETHER_ATTACH_RUN_DIR``; a spawned
  child calling ``tether.init()`` attaches to it as a new writer. A ``Run`` pickles as its
  directory, and unpickling it in another process attaches the same way.
* **Exit.** ``atexit`` finishes the runs of a process that exits normally. ``multiprocessing``
  children leave through ``os._exit`` and skip ``atexit``; they do join non-daemon threads
  first (``threading._shutdown`` in ``BaseProcess._bootstrap``), so the flusher is a
  non-daemon thread that writes out the buffer and ends as soon as the main thread is gone.

Labels say which process wrote what: ``main``, ``rank3``, ``worker2``, ``pid12345``, or the
user's own (``TETHER_WRITER_LABEL`` / ``init(label=...)``).
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from tether import _diagnostics, _registry
from tether._threads import start_without_signals
from tether.store.states import RunState

if TYPE_CHECKING:
    from tether._run import Run

_hooks_installed = False
# Set in a fork child once Ctrl-C (SIGINT) reached it: if the child then exits with a failure
# (multiprocessing turns the KeyboardInterrupt into exit code 1), its writers end ``killed``.
_interrupted_by: int | None = None
EXIT_FLUSH_TIMEOUT_S = 1.0
# A child's segment unchanged this long holds everything the child logged (3 flush intervals).
QUIET_S = 0.15


def register(run: Run) -> None:
    """``run`` writes in this process: its writers follow forks and close at exit."""
    _registry.register(run)
    _install_hooks()


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(exit_flush)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
    _flush_before_os_exit()
    from tether.process import spawned

    spawned.follow_started_processes(_capturing_run)


def _capturing_run() -> tuple[str, str, str] | None:
    """The run that a process started now should join: the newest one capturing output."""
    for run in reversed(_registry.active_runs_without_lock()):
        if run._capture is not None and run.state == RunState.RUNNING:
            return str(run.dir), run.id, run._console_mode
    return None


def _flush_before_os_exit() -> None:
    """Make ``os._exit`` write out this process's buffers first (bounded, never raising).

    A raw ``os.fork()`` child that ends with ``os._exit`` runs no ``atexit`` and joins no
    thread: without this, its last flush interval of records would be lost. Installed once, by
    the first ``init()`` (``import tether`` patches nothing).
    """
    real_exit = os._exit

    def _exit(status: int) -> NoReturn:
        try:
            if _interrupted_by is not None and status != 0:
                _end_interrupted(_interrupted_by)
            for run in _registry.active_runs_without_lock():
                run._writer.flush(timeout=EXIT_FLUSH_TIMEOUT_S)
        except BaseException:
            pass
        real_exit(status)

    _exit.__wrapped__ = real_exit  # type: ignore[attr-defined]
    os._exit = _exit


def _after_fork_in_child() -> None:
    # The registry's locks are new by now (its fork hook was installed first).
    _diagnostics.reset_after_fork()
    _note_interrupts()
    for run in _registry.active_runs_without_lock():
        try:
            run._become_fork_child()
        except Exception:  # a failing hook must not break the user's child process
            _diagnostics.warn_failure("fork", "could not give a forked process its own writer")


def _note_interrupts() -> None:
    """Remember in this fork child that SIGINT arrived, then raise KeyboardInterrupt as before.

    Ctrl-C in a terminal reaches the whole process group. The parent marks its run ``killed``
    from the KeyboardInterrupt (the excepthook); a fork child of ``multiprocessing`` catches
    that exception itself and leaves through ``os._exit(1)``, where its writers would close
    with no final state. Only Python's default handler is wrapped: a handler of the user's
    is left alone.
    """
    global _interrupted_by
    _interrupted_by = None
    try:
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return
        signal.signal(signal.SIGINT, _interrupted)
    except (ValueError, OSError):  # not the main thread, or no signals here
        return


def _end_interrupted(signum: int) -> None:
    """End this process's writers ``killed``, on a helper thread, for at most 1 s.

    The KeyboardInterrupt may have unwound through our own code at any point; whatever it
    left held must never keep the process from leaving. What is not done in time is still
    flushed by the caller, without a final state.
    """
    helper = threading.Thread(
        target=exit_flush, kwargs={"killed_by": signum}, name="tether-interrupted", daemon=True
    )
    start_without_signals(helper)
    helper.join(EXIT_FLUSH_TIMEOUT_S)


def _interrupted(signum: int, frame: Any) -> None:
    global _interrupted_by
    _interrupted_by = signum
    signal.default_int_handler(signum, frame)


def exit_flush(killed_by: int | None = None) -> None:
    """Close every active run's writer in this process; never raises.

    ``killed_by``: the signal that is ending this process (its writers record ``killed``).
    """
    for run in _registry.active_runs():
        try:
            run._on_process_exit(killed_by)
        except Exception:
            _diagnostics.warn_failure("exit", "could not flush run data at exit")


# -- children at finish ------------------------------------------------------------------
def wait_for_child_writers(run_dir: Path, timeout: float) -> list[int]:
    """Give this process's children that are still writing to ``run_dir`` time to finish.

    A child counts as busy while it is alive and its segment changed within the last
    ``QUIET_S`` (its flusher writes within one interval of a record, so a quiet segment
    holds everything the child logged). Never waits longer than ``timeout``: whatever a
    child writes afterwards still lands in its own segment. Returns the busy pids left.
    """
    me = os.getpid()
    deadline = time.monotonic() + timeout
    while True:
        now = time.time()
        busy = [
            pid
            for pid, mtime in _segment_writers(run_dir)
            if pid != me and now - mtime < QUIET_S and _descends_from(pid, me)
        ]
        if not busy or time.monotonic() >= deadline:
            return busy
        time.sleep(0.02)


def _segment_writers(run_dir: Path) -> list[tuple[int, float]]:
    """``(pid, mtime)`` of every segment in ``run_dir``."""
    from tether.store.segment_names import parse_segment_name, segment_paths

    found: list[tuple[int, float]] = []
    for path in segment_paths(run_dir):
        parsed = parse_segment_name(path.name)
        if parsed is not None:
            try:
                found.append((parsed.pid, os.stat(path).st_mtime))
            except OSError:
                continue
    return found


def _descends_from(pid: int, ancestor: int) -> bool:
    """Is live process ``pid`` a descendant of ``ancestor``? (Linux /proc; False elsewhere.)"""
    for _ in range(64):
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[-1].split()
        except OSError:
            return False
        if fields[0] in (b"Z", b"X"):
            return False  # exited already
        parent = int(fields[1])
        if parent == ancestor:
            return True
        if parent <= 1:
            return False
        pid = parent
    return False


# -- labels ------------------------------------------------------------------------------
def owner_label(explicit: str | None) -> Callable[[], str]:
    """The label of the process that created the run."""
    if explicit:
        return lambda: explicit
    rank = _env_rank()
    return (lambda: f"rank{rank}") if rank is not None else (lambda: "main")


def attached_label(explicit: str | None) -> Callable[[], str]:
    """The label of a spawned process that attached to an existing run."""
    if explicit:
        return lambda: explicit

    def resolve() -> str:
        rank = _distributed_rank()
        if rank is None:
            rank = _env_rank()
        if rank is None:
            rank = _torch_spawn_index()
        worker = _dataloader_worker_id()
        if worker is not None:  # a DataLoader worker started with the spawn context
            return f"rank{rank}-worker{worker}" if rank is not None else f"worker{worker}"
        return f"rank{rank}" if rank is not None else f"pid{os.getpid()}"

    return resolve


def forked_label(parent_label: str) -> Callable[[], str]:
    """The label of a fork child: a DataLoader worker, a rank of its own, or its pid."""

    def resolve() -> str:
        worker = _dataloader_worker_id()
        if worker is not None:
            if parent_label.startswith("rank"):
                return f"{parent_label}-worker{worker}"
            return f"worker{worker}"
        # A child that set up its own process group is a rank (Lightning's ddp_fork). One that
        # merely inherited its parent's process group is not that rank a second time.
        rank = _distributed_rank()
        if rank is not None and f"rank{rank}" != parent_label:
            return f"rank{rank}"
        index = _torch_spawn_index()
        if index is not None:  # torch.multiprocessing.start_processes(..., "fork")
            return f"rank{index}"
        return f"pid{os.getpid()}"

    return resolve


def _env_rank() -> int | None:
    for name in ("RANK", "LOCAL_RANK"):
        value = os.environ.get(name)
        if value is not None and value.strip().isdigit():
            return int(value)
    return None


def _distributed_rank() -> int | None:
    dist: Any = sys.modules.get("torch.distributed")
    if dist is None:
        return None
    try:
        if dist.is_available() and dist.is_initialized():
            return int(dist.get_rank())
    except Exception:
        return None
    return None


def _torch_spawn_index() -> int | None:
    """The process index ``torch.multiprocessing.spawn``/``start_processes`` gave this process.

    Its children run ``torch.multiprocessing.spawn._wrap(fn, i, args, error_file)`` (maybe
    inside our ``AttachFirst``), and ``i`` is what the user's function gets as its rank; it
    labels the process before (or without) a ``torch.distributed`` process group.
    """
    process_module: Any = sys.modules.get("multiprocessing.process")
    if process_module is None:
        return None
    try:
        process = process_module.current_process()
        target = getattr(process, "_target", None)
        target = getattr(target, "target", target)  # unwrap AttachFirst
        if getattr(target, "__module__", None) != "torch.multiprocessing.spawn":
            return None
        if getattr(target, "__name__", None) != "_wrap":
            return None
        args: Any = getattr(process, "_args", ())
        index = args[1] if len(args) > 1 else None
    except Exception:
        return None
    return index if type(index) is int else None


def _dataloader_worker_id() -> int | None:
    data: Any = sys.modules.get("torch.utils.data")
    if data is None:
        return None
    try:
        info = data.get_worker_info()
    except Exception:
        return None
    return None if info is None else int(info.id)
