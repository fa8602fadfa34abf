"""The run an integration writes to: the one the user passed, or one it starts itself.

Lifetime, the same under every integration and on every rank: a run a ``RunHandle`` started
stays open, and keeps recording the console, after training ends, so what the user prints
after ``fit()`` or ``train()`` is kept. It ends, as a wandb run does, when

* the user ends it: ``tether.finish()`` or ``run.finish()``;
* ``tether.init()`` is called again in this process, by the user or by a new integration
  object starting its own run, so a loop of trainings gives one finished run per training;
* the process exits: tether's exit hook finishes it (failed or killed after an uncaught
  exception or SIGTERM). If the last training ended failed or interrupted and the framework
  went on (Lightning turns Ctrl-C into ``sys.exit(1)``, which no exception hook sees), the
  run ends with that state instead.

The end of a training is recorded as what it is: rank 0 sets the summary entry
``_train_end`` (``{"state": ..., "time": ...}``). A handle asked to write again after its
run ended (the user finished it, another run replaced it) continues the same run (same id,
``resume="allow"``): ``trainer.test()`` with a logger whose run a later one replaced.

A handle travels with the framework object that holds it. Pickled into a spawned process,
its run attaches that process as a new writer of the same run. Copied by fork, the child
already has a writer of its own (tether's fork hook), which labels itself ``rank<N>`` once
the child sets up its ``torch.distributed`` process group. Only the process that started a
run ends it here; other processes' writers end when they exit.
"""

from __future__ import annotations

import atexit
import inspect
import os
import time
from typing import TYPE_CHECKING, Any

from tether.errors import UsageError
from tether.store.states import RunState

if TYPE_CHECKING:
    from tether import Run

# Lightning's, Keras's and fastai's words for how training ended, as tether run states.
FINAL_STATES = {
    "success": RunState.FINISHED,
    "finished": RunState.FINISHED,
    "failed": RunState.FAILED,
    "killed": RunState.KILLED,
    "interrupted": RunState.KILLED,
}
EXIT_CODES: dict[str, int] = {RunState.FINISHED: 0, RunState.FAILED: 1, RunState.KILLED: 130}
TRAIN_END_KEY = "_train_end"
_ENDED = frozenset(FINAL_STATES.values())

# The handle whose run this process started last: the run the next tether.init() ends.
_live: RunHandle | None = None


class RunHandle:
    def __init__(self, run: Run | None, init_kwargs: dict[str, Any], *, owner: str) -> None:
        if run is not None and init_kwargs:
            names = ", ".join(sorted(init_kwargs))
            raise UsageError(
                f"{owner}: got run= and tether.init() arguments ({names}); pass run= to use "
                "a run you started, or the arguments to have one started, not both"
            )
        _check_init_arguments(init_kwargs, owner)
        self._run = run
        self._given = run is not None
        self._kwargs = init_kwargs
        self._started_pid: int | None = None  # where tether.init() made self._run
        self._outcome: str = RunState.FINISHED  # how the latest training of self._run ended

    @property
    def run(self) -> Run | None:
        """The run, if there is one yet; starts nothing."""
        return self._run

    def get(self, *, writing: bool = True) -> Run:
        """The run for this process, started if need be.

        ``writing``: about to write, so a run of ours that has ended is continued (same id).
        """
        run = self._run
        if run is None:
            return self._start()
        if run.state in _ENDED and writing and not self._given:
            return self._start()
        return run

    def train_ended(self, state: str, *, rank_zero: bool = True) -> None:
        """Training ended with ``state``: record that, and write out what was logged.

        The run stays open (see the module docstring); ``state`` is what it ends with at exit
        if nothing else ends it first.
        """
        run = self._run
        if run is None or run.state in _ENDED:
            return
        if self._started_pid == os.getpid():
            self._outcome = state
        if rank_zero:
            run.summary[TRAIN_END_KEY] = {"state": state, "time": time.time()}
        run.flush()  # what the training logged is on disk for readers now

    def _end(self) -> None:
        """End the run this process started, with how its latest training ended."""
        run = self._run
        if run is None or self._started_pid != os.getpid() or run.state in _ENDED:
            return
        run.finish(EXIT_CODES[self._outcome], state=self._outcome)

    def _start(self) -> Run:
        global _live
        import tether

        kwargs = dict(self._kwargs)
        previous = self._run
        if previous is not None:  # ours, ended since, and written to again
            kwargs.update(id=previous.id, resume="allow")
        run = tether.init(**kwargs)  # ends the run another handle started here: _end_live
        self._run = run
        self._started_pid = os.getpid()
        self._outcome = RunState.FINISHED
        _live = self
        _install_process_hooks()
        return run


def _end_live() -> None:
    """Before any ``tether.init()``: end the run an integration started in this process."""
    global _live
    handle, _live = _live, None
    if handle is None:
        return
    try:
        handle._end()
    except Exception:  # the user's init() must go on; the exit hook ends that run instead
        from tether import _diagnostics

        _diagnostics.warn_failure("finish", "could not end the run an integration started")


def _at_exit() -> None:
    """Before tether's own exit hook: end the live run with its training's bad outcome.

    A run whose last training finished is left to tether's exit hook, which tells a clean
    exit from an uncaught exception. ``Run._end`` is what that hook calls: the same short
    grace, so exit waits no longer than it would anyway.
    """
    handle = _live
    if handle is None or handle._outcome == RunState.FINISHED:
        return
    if handle._started_pid != os.getpid():
        return
    run = handle._run
    if run is None or run.state != RunState.RUNNING:
        return
    run._end(RunState(handle._outcome), EXIT_CODES[handle._outcome])


def _install_process_hooks() -> None:
    from tether import _client

    _client.call_before_init(_end_live)
    # atexit runs the latest registration first: registered again after each init(), ours
    # runs before tether's own exit hook (registered by the process's first init()).
    atexit.unregister(_at_exit)
    atexit.register(_at_exit)


def _check_init_arguments(kwargs: dict[str, Any], owner: str) -> None:
    import tether

    try:
        inspect.signature(tether.init).bind(**kwargs)
    except TypeError as exc:
        accepted = ", ".join(
            name for name in inspect.signature(tether.init).parameters if name != "config"
        )
        raise TypeError(
            f"{owner}: {exc}; the keyword arguments are passed to tether.init(), which takes "
            f"config, {accepted}"
        ) from None
