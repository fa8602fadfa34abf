"""How a run learns that its process is ending: exceptions, SIGTERM, SIGINT.

Installed only in the process that created the run, only from the main thread, and removed
by ``finish()`` only if nobody replaced our handler since (otherwise theirs is left alone).

* An uncaught exception marks the run ``failed`` (``KeyboardInterrupt``: ``killed``) after the
  previous ``sys.excepthook`` has printed it, so the traceback is in the run's console.
* ``SIGTERM`` marks the run ``killed`` and writes everything out, then the previous handler
  runs; with the default handler, the process then dies of SIGTERM as it would have.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, Final

from tether._threads import start_without_signals
from tether.store.states import RunState

ExitFn = Callable[[str, int], None]

# How long a SIGTERM handler waits for the run's data to be written before the process goes.
SIGTERM_WORK_S: Final = 10.0

ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], Any]


class ExitWatch:
    """Calls ``on_exit(state, exit_code)`` when the process dies of an exception or SIGTERM.

    A fork child inherits the SIGTERM handler; there it calls ``in_fork_child(signum)``
    instead, which ends the child's own writers.
    """

    def __init__(self, on_exit: ExitFn, *, in_fork_child: Callable[[int], None]) -> None:
        self._on_exit = on_exit
        self._in_fork_child = in_fork_child
        self._pid = os.getpid()
        self._previous_hook: ExceptHook | None = None
        self._previous_term: Any = None
        self._installed_term = False
        self.seen_exception: str | None = None

    def install(self) -> None:
        self._previous_hook = sys.excepthook
        sys.excepthook = self._excepthook
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        try:
            previous = signal.getsignal(signal.SIGTERM)
            if previous is signal.SIG_IGN:
                return  # the user chose to survive SIGTERM: so do we
            signal.signal(signal.SIGTERM, self._on_sigterm)
        except (ValueError, OSError):
            return
        self._previous_term = previous
        self._installed_term = True

    def uninstall(self) -> None:
        if sys.excepthook == self._excepthook and self._previous_hook is not None:
            sys.excepthook = self._previous_hook
        if not self._installed_term or os.getpid() != self._pid:
            return
        if threading.current_thread() is not threading.main_thread():
            return
        try:
            if signal.getsignal(signal.SIGTERM) == self._on_sigterm:
                signal.signal(signal.SIGTERM, self._previous_term)
        except (ValueError, OSError):
            pass
        self._installed_term = False

    def _excepthook(
        self, kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        state = RunState.KILLED if issubclass(kind, KeyboardInterrupt) else RunState.FAILED
        self.seen_exception = state
        hook = self._previous_hook or sys.__excepthook__
        try:
            # First the traceback, while the console capture still records: the error that
            # ended the run is the line people look for in its console.
            hook(kind, value, tb)
        finally:
            self._on_exit(state, 130 if state is RunState.KILLED else 1)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() == self._pid:
            _bounded(lambda: self._on_exit(RunState.KILLED, 128 + signum))
        else:  # a fork child inherited this handler: end the child's own part as killed
            _bounded(lambda: self._in_fork_child(signum))
        previous = self._previous_term
        if callable(previous):
            previous(signum, frame)
            return
        # Default disposition: die of the signal, as the process would have without us.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _bounded(work: Callable[[], None]) -> None:
    """Run ``work`` for a signal handler on a helper thread; wait at most ``SIGTERM_WORK_S``.

    A handler runs between two bytecodes of the main thread, which may be holding one of the
    locks ``work`` needs (an Event being set at shutdown, a writer's queue lock). Done on the
    main thread, ``work`` would then wait for itself forever and the process would never die
    (a Pool's terminate() hung on such a worker). On a helper thread it waits at worst until
    the bound, and the process then dies of the signal as it would have.
    """

    def run() -> None:
        try:
            work()
        except Exception:
            pass

    try:
        helper = threading.Thread(target=run, name="tether-sigterm", daemon=True)
        start_without_signals(helper)
    except RuntimeError:  # no new thread at interpreter shutdown: do it here, as before
        run()
        return
    helper.join(SIGTERM_WORK_S)
