"""tether's background threads leave the process's signals to the main thread.

The kernel hands a signal sent to a process (``kill``, ``killpg``, Ctrl-C in a terminal) to any
one of its threads that does not block it. Python runs its handlers only on the main thread,
and a handler that lands on another thread waits until the main thread next runs bytecode.
A training script blocked in ``time.sleep``, ``queue.get`` or a ``DataLoader`` wait therefore
did not react to SIGTERM or SIGINT at all while one of tether's threads happened to take the
signal: it died only when the sleep ended, and a scheduler had long since sent SIGKILL.

A thread inherits its creator's signal mask, so each of our threads is started with the
asynchronous signals blocked: only the main thread (and the user's own threads) can receive
them, and the handler runs at once. Faults raised by a thread itself (SIGSEGV, SIGFPE, SIGPIPE
from a write) are synchronous and still reach it.
"""

from __future__ import annotations

import signal
import threading
from typing import Final


def _asynchronous_signals() -> frozenset[signal.Signals]:
    names = ["INT", "TERM", "HUP", "QUIT", "USR1", "USR2", "ALRM", "CHLD", "WINCH"]
    names += ["XCPU", "VTALRM", "PROF", "CONT", "TSTP", "URG"]
    found = (getattr(signal, f"SIG{name}", None) for name in names)
    return frozenset(sig for sig in found if sig is not None)


# The signals a process receives from outside; the main thread alone takes them.
ASYNCHRONOUS_SIGNALS: Final = _asynchronous_signals()


def start_without_signals(thread: threading.Thread) -> None:
    """Start ``thread`` with the asynchronous signals blocked in it (where the OS can)."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None:  # Windows: no signal masks, and no process-directed signals either
        thread.start()
        return
    # Block them in this thread for the instant of the start, so the new thread inherits the
    # mask from its first instruction; a signal arriving meanwhile waits and is delivered here
    # when the old mask comes back.
    previous = mask(signal.SIG_BLOCK, ASYNCHRONOUS_SIGNALS)
    try:
        thread.start()
    finally:
        mask(signal.SIG_SETMASK, previous)


# How long ``Flag.set`` waits for the lock before it leaves the waking to the waiter's timeout.
_WAKE_LOCK_S: Final = 0.05


class Flag:
    """``threading.Event``'s flag, whose ``set()`` never waits for long.

    ``Event.set`` takes the lock of its condition. A SIGTERM handler interrupts the main thread
    between two bytecodes, possibly inside ``Event.set`` itself (a writer's exit hook sets its
    stop event as the process leaves, which is when a ``Pool`` terminates its workers), with
    that lock held; the handler's helper thread then waited on ``Event.set`` for the lock
    until the handler gave up, and the process died with its last rows unwritten. Here the
    flag is set first, without the lock; the waiters are then woken if the lock comes within
    ``_WAKE_LOCK_S``, and otherwise see the flag when their own timeout ends.
    """

    def __init__(self) -> None:
        self._set = False
        self._cond = threading.Condition(threading.Lock())

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        if self._cond.acquire(timeout=_WAKE_LOCK_S):
            try:
                self._cond.notify_all()
            finally:
                self._cond.release()

    def clear(self) -> None:
        self._set = False

    def wait(self, timeout: float | None = None) -> bool:
        """True once set; False after ``timeout`` seconds unset."""
        with self._cond:
            if not self._set:
                self._cond.wait(timeout)
            return self._set
