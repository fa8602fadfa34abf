"""The run an integration writes to: the one the user passed, or one it starts itself.

``RunHandle`` starts its run with ``tether.init(**kwargs)`` on first use, finishes it when the
framework says training ended (only in the process that started it, and only on rank 0), and
continues the same run (same id, ``resume="allow"``) if the framework logs again afterwards,
as ``trainer.test()`` after ``trainer.fit()`` or fastai's ``fine_tune`` (two fits) do.

A handle travels with the framework object that holds it. Pickled into a spawned process,
its run attaches that process as a new writer of the same run. Copied by fork, the child
already has a writer of its own (tether's fork hook), which labels itself ``rank<N>`` once
the child sets up its ``torch.distributed`` process group.
"""

from __future__ import annotations

import inspect
import os
from typing import TYPE_CHECKING, Any

from tether.errors import UsageError

if TYPE_CHECKING:
    from tether import Run

# Lightning's, Keras's and fastai's words for how training ended, as tether run states.
FINAL_STATES = {
    "success": "finished",
    "finished": "finished",
    "failed": "failed",
    "killed": "killed",
    "interrupted": "killed",
}
_ENDED = frozenset(FINAL_STATES.values())


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
        self._ready_pid: int | None = None  # the process self._run is known good in

    @property
    def run(self) -> Run | None:
        """The run, if there is one yet; starts nothing."""
        return self._run

    def get(self, *, writing: bool = True) -> Run:
        """The run for this process, started if need be.

        ``writing``: about to write, so a run this handle ended is continued (same id).
        """
        run = self._run
        if run is not None and self._ready_pid == os.getpid():
            return run
        if run is None:
            return self._start()
        if run.state in _ENDED:
            return self._start() if writing and not self._given else run
        self._ready_pid = os.getpid()
        return run

    def finish(self, state: str, *, rank_zero: bool = True) -> None:
        """End the run if this process started it and is rank 0; otherwise write it out.

        A run the user passed in, or one this process only joined, stays open: its owner
        ends it (or the process exit does).
        """
        run = self._run
        if run is None:
            return
        if self._given or not rank_zero or self._started_pid != os.getpid():
            run.flush()
            return
        run.finish(0 if state == "finished" else 1, state=state)
        self._ready_pid = None

    def _start(self) -> Run:
        import tether

        kwargs = dict(self._kwargs)
        previous = self._run
        if previous is not None:  # ours, ended by the framework, and now used again
            kwargs.update(id=previous.id, resume="allow")
        run = tether.init(**kwargs)
        self._run = run
        self._started_pid = self._ready_pid = os.getpid()
        return run


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
