"""Keep the user's ``fork()`` out of our threads' delicate moments.

A fork copies every thread's memory but runs only the forking thread in the child. A lock
that another thread held at that instant stays held in the child forever: a module being
imported, ``tempfile``'s first look for a temporary folder, the pipe ``subprocess`` reads to
learn that ``exec`` worked. A DataLoader worker forked at that instant by the training thread
then hangs on its first use of that lock, and training with it (seen in tests: a worker stuck
in ``tempfile`` while our thread started ``git``).

Our background threads do such things only inside ``no_fork()``; a fork of any other thread
waits for that to end (``os.register_at_fork``), at most ``FORK_WAIT_S``, then forks anyway.
The guarded moments are short (imports, starting NVML, starting a ``git`` process), so a
fork is held up by milliseconds, and only while a run starts.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

FORK_WAIT_S: Final = 1.0

# Reentrant: a fork made inside a guarded moment by our own thread must not wait for itself.
_lock = threading.RLock()
_held = threading.local()
_installed = False
_install_lock = threading.Lock()


@contextmanager
def no_fork() -> Iterator[None]:
    """No ``fork()`` of another thread of this process happens inside this block."""
    _install()
    with _lock:
        yield


def _install() -> None:
    global _installed
    with _install_lock:
        if _installed or not hasattr(os, "register_at_fork"):
            return
        _installed = True
        os.register_at_fork(before=_before, after_in_parent=_after, after_in_child=_in_child)


def _before() -> None:
    _held.acquired = _lock.acquire(timeout=FORK_WAIT_S)


def _after() -> None:
    if getattr(_held, "acquired", False):
        _held.acquired = False
        _lock.release()


def _in_child() -> None:
    global _lock, _held
    # The parent's lock may be held by a thread that does not exist here.
    _lock = threading.RLock()
    _held = threading.local()
