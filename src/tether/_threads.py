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
