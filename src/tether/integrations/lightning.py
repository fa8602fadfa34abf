"""PyTorch Lightning: ``TetherLogger``, a Lightning ``Logger`` that writes to a tether run.

>>> from tether.integrations.lightning import TetherLogger      # doctest: +SKIP
>>> trainer = L.Trainer(logger=TetherLogger(project="mnist"), max_epochs=2)   # doctest: +SKIP

Works with the ``lightning`` package and with ``pytorch_lightning``: the logger derives from
``lightning.pytorch``'s ``Logger``, or from ``pytorch_lightning``'s when that is the only one
installed or the one already imported (import it before this module).

Processes. Lightning starts its ranks (``ddp_spawn``, ``ddp_fork``, ``ddp``) before it calls
any logger method, so the logger starts its run when it is constructed (unless given
``run=``): spawned ranks then receive the run with the pickled logger and join it, forked
ranks inherit it, and ranks that Lightning launches as new scripts join it through the
environment. Metrics and hyperparameters are logged from rank 0 (``rank_zero_only=False``
logs every rank's metrics, each under its rank's label); every rank's console is recorded.
Steps are the steps Lightning passes (``trainer.global_step`` for training metrics); rows are
kept as logged, out of order included (validation steps restart each epoch).

Lifetime: ``finalize`` (the end of ``fit``, ``validate``, ``test`` or ``predict``) records how
it ended in the summary (``_train_end``); the run stays open, and keeps every rank's console,
until ``tether.finish()``, the next ``tether.init()`` (a new ``TetherLogger`` included) or the
end of the process (see ``tether.integrations._handle``).
"""

from __future__ import annotations

import sys
from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.integrations._handle import FINAL_STATES, RunHandle
from tether.integrations._plain import numeric_metrics, plain_config
from tether.store.layout import RUNS_DIRNAME
from tether.store.states import RunState

if TYPE_CHECKING:
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import Logger
    from lightning.pytorch.utilities import rank_zero_only

    from tether import Run
elif "pytorch_lightning" in sys.modules and "lightning.pytorch" not in sys.modules:
    from pytorch_lightning.loggers import Logger
    from pytorch_lightning.utilities import rank_zero_only
else:
    try:
        from lightning.pytorch.loggers import Logger
        from lightning.pytorch.utilities import rank_zero_only
    except ImportError:
        from pytorch_lightning.loggers import Logger
        from pytorch_lightning.utilities import rank_zero_only

__all__ = ["TetherLogger"]


class TetherLogger(Logger):
    """Log a Lightning ``Trainer``'s metrics, hyperparameters and checkpoints to tether.

    Args:
        run: a run to write to (``tether.init()``'s result); by default the logger starts
            one with ``tether.init(**init_kwargs)`` (``project``, ``name``, ``dir``, ...).
        rank_zero_only: log metrics from rank 0 only (the default), or from every rank.
        **init_kwargs: passed to ``tether.init()``; ``config`` becomes the run's config.

    ``logger.experiment`` is the ``tether.Run``; ``logger.experiment.log({...})`` works on
    every rank (each rank writes as itself).
    """

    def __init__(
        self,
        *,
        run: Run | None = None,
        rank_zero_only: bool = True,
        **init_kwargs: Any,
    ) -> None:
        super().__init__()
        self._handle = RunHandle(run, init_kwargs, owner="TetherLogger()")
        self._rank_zero_only = rank_zero_only
        self._handle.get()  # start now: ranks are created before the first logger call

    # -- what Lightning asks about the logger ----------------------------------------------
    @property
    def experiment(self) -> Run:
        """The ``tether.Run`` this logger writes to."""
        return self._handle.get(writing=False)

    @property
    def name(self) -> str:
        run = self._handle.get(writing=False)
        return run.project or run.name

    @property
    def version(self) -> str:
        return self._handle.get(writing=False).id

    @property
    def save_dir(self) -> str:
        """Where Lightning puts checkpoints: ``<dir>/<project>/<run id>/checkpoints``."""
        return str(_root_of(self._handle.get(writing=False).dir))

    # -- what Lightning tells the logger ----------------------------------------------------
    def log_hyperparams(
        self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any
    ) -> None:
        run = self._handle.get()
        if not _is_rank_zero():
            return
        values = vars(params) if isinstance(params, Namespace) else dict(params)
        if values:
            run.config.update(plain_config(values))

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        run = self._handle.get()
        if self._rank_zero_only and not _is_rank_zero():
            return
        run.log(numeric_metrics(metrics), step=step)

    def after_save_checkpoint(self, checkpoint_callback: ModelCheckpoint) -> None:
        run = self._handle.get()
        if not _is_rank_zero():
            return
        callback: Any = checkpoint_callback
        found = {
            "checkpoint/best_model_path": getattr(callback, "best_model_path", None),
            "checkpoint/last_model_path": getattr(callback, "last_model_path", None),
            "checkpoint/best_model_score": getattr(callback, "best_model_score", None),
        }
        plain = plain_config({key: value for key, value in found.items() if value})
        if plain:
            run.summary.update(plain)

    def finalize(self, status: str) -> None:
        """Record how the trainer's run ended (``_train_end``); the tether run stays open."""
        state = FINAL_STATES.get(status, RunState.KILLED)
        if state is RunState.FAILED and isinstance(sys.exc_info()[1], KeyboardInterrupt):
            state = RunState.KILLED  # Lightning reports Ctrl-C as "failed", then calls sys.exit(1)
        self._handle.train_ended(state, rank_zero=_is_rank_zero())

    def __repr__(self) -> str:
        return f"TetherLogger(run={self._handle.run!r})"


def _is_rank_zero() -> bool:
    return int(getattr(rank_zero_only, "rank", 0)) == 0


def _root_of(run_dir: Path) -> Path:
    """``<dir>`` for a run in ``<dir>/tether/run-...`` (or a disabled run's ``<dir>/tether``)."""
    for folder in (run_dir, *run_dir.parents):
        if folder.name == RUNS_DIRNAME:
            return folder.parent
    return run_dir
