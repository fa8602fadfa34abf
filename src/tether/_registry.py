"""The runs of this process: the stack of current runs, and the runs that write here.

A leaf module: it imports nothing of tether at run time, so every layer may use it. The
client API pushes runs here and a ``Run`` takes itself off when it ends; the process hooks
(fork, exit, spawned children) walk the active runs. What only an upper layer can do (join a
run that another process writes) is a function that layer provides here when it loads, so
no lower module ever imports upward.

* **current runs**: a stack, innermost last; ``tether.log()`` writes to the last one. Nested
  ``init()`` calls push, ``finish()`` removes wherever the run is.
* **active runs**: every run with a writer in this process, whether current or not; fork
  children give each a new writer, exit hooks close them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tether._run import Run

# join_run(run_dir, run_id, name, project, console): this process joins the run in run_dir
# as a writer of its own. Provided by tether._client; pickled by reference (Run.__reduce__,
# process.spawned.AttachFirst), so a spawned child imports the client when it unpickles one.
JoinRun = Callable[[str, str, "str | None", "str | None", "str | None"], "Run"]
# reopen_disabled(project, name): a disabled run again, in the process that unpickles one.
ReopenDisabled = Callable[[str, str], "Run"]

_stack: list[Run] = []
_stack_lock = threading.RLock()
_active: list[Run] = []
_active_lock = threading.Lock()
_fork_hook = False
_join_run: JoinRun | None = None
_reopen_disabled: ReopenDisabled | None = None
_on_forget: list[Callable[[Run], None]] = []


# -- what the client API provides --------------------------------------------------------
def provide_client(
    *, join_run: JoinRun, reopen_disabled: ReopenDisabled, on_forget: Callable[[Run], None]
) -> None:
    """Called once by ``tether._client`` when it loads."""
    global _join_run, _reopen_disabled
    _join_run, _reopen_disabled = join_run, reopen_disabled
    if on_forget not in _on_forget:
        _on_forget.append(on_forget)


def join_run_function() -> JoinRun | None:
    """How this process joins another process's run; None before the client has loaded."""
    return _join_run


def reopen_disabled_function() -> ReopenDisabled:
    if _reopen_disabled is None:  # a DisabledRun exists only once the client has loaded
        raise RuntimeError("tether._client is not loaded: no disabled run can exist yet")
    return _reopen_disabled


# -- current runs ------------------------------------------------------------------------
def push(run: Run) -> None:
    """Make ``run`` the current run of this process (moving it to the top if present)."""
    _install_fork_hook()
    with _stack_lock:
        if run in _stack:
            _stack.remove(run)
        _stack.append(run)


def forget(run: Run) -> None:
    """Called when ``run`` ends: it is no longer anyone's current run."""
    with _stack_lock:
        if run in _stack:
            _stack.remove(run)
    for hook in list(_on_forget):
        hook(run)


def current() -> Run | None:
    with _stack_lock:
        return _stack[-1] if _stack else None


def current_runs() -> list[Run]:
    """The stack of current runs, innermost last (a copy)."""
    with _stack_lock:
        return list(_stack)


# -- active runs -------------------------------------------------------------------------
def register(run: Run) -> None:
    _install_fork_hook()
    with _active_lock:
        _active.append(run)


def unregister(run: Run) -> None:
    with _active_lock:
        if run in _active:
            _active.remove(run)


def active_runs() -> list[Run]:
    with _active_lock:
        return list(_active)


def active_runs_without_lock() -> list[Run]:
    """For fork, exit and signal paths: a lock held by a thread that is gone would hang them
    (a list copy is atomic under the GIL)."""
    return list(_active)


def _install_fork_hook() -> None:
    global _fork_hook
    if not _fork_hook and hasattr(os, "register_at_fork"):
        _fork_hook = True
        os.register_at_fork(after_in_child=_reset_after_fork)


def _reset_after_fork() -> None:
    global _stack_lock, _active_lock
    # A parent thread may have held them at fork time: never reuse them in the child.
    _stack_lock = threading.RLock()
    _active_lock = threading.Lock()
