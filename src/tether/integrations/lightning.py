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

Media, as ``WandbLogger``: ``logger.log_image("samples", images=[x0, x1], caption=["a", "b"])``
(tensors, arrays, PIL images or paths; each becomes a ``tether.Image``) and
``logger.log_table("preds", columns=[...], data=[[...], ...])`` (or ``dataframe=``; cells may
be ``tether.Image``). Both log from rank 0 only unless ``rank_zero_only=False``.

Checkpoints as artifacts, as ``WandbLogger(log_model=...)``: ``log_model=True`` logs the
checkpoints ``ModelCheckpoint`` kept when training ends successfully (each as it is saved when
``save_top_k=-1``); ``log_model="all"`` logs each checkpoint as it is saved. Each is a version
of the artifact ``model-<run id>`` (``checkpoint_name=`` to choose another), with the alias
``latest``, and ``best`` on the best one; its metadata holds the monitored score
(``score``), the file's name and the ``ModelCheckpoint`` settings. Only global rank 0 logs
them (where Lightning calls ``after_save_checkpoint``), from whichever process that is.

Lifetime: ``finalize`` (the end of ``fit``, ``validate``, ``test`` or ``predict``) records how
it ended in the summary (``_train_end``); the run stays open, and keeps every rank's console,
until ``tether.finish()``, the next ``tether.init()`` (a new ``TetherLogger`` included) or the
end of the process (see ``tether.integrations._handle``).
"""

from __future__ import annotations

import os
import sys
from argparse import Namespace
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.integrations._handle import FINAL_STATES, RunHandle
from tether.integrations._models import (
    LogModel,
    check_log_model,
    check_model_name,
    default_name,
    log_model,
)
from tether.integrations._plain import numeric_metrics, plain_config
from tether.media.table import Table
from tether.media.types import Image
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
        save_dir: the folder the runs go under (``<save_dir>/tether/...``), as every Lightning
            logger takes it: ``tether.init(dir=...)``, ``TETHER_DIR``'s meaning.
        log_model: ``False`` (the default), ``True`` (the checkpoints kept, at the end of a
            successful training) or ``"all"`` (each checkpoint as it is saved), logged as
            versions of the artifact ``checkpoint_name`` (``model-<run id>`` by default).
        checkpoint_name: the artifact the checkpoints are versions of.
        **init_kwargs: passed to ``tether.init()``; ``config`` becomes the run's config.

    ``logger.experiment`` is the ``tether.Run``; ``logger.experiment.log({...})`` works on
    every rank (each rank writes as itself).
    """

    def __init__(
        self,
        *,
        run: Run | None = None,
        rank_zero_only: bool = True,
        save_dir: str | os.PathLike[str] | None = None,
        log_model: LogModel = False,
        checkpoint_name: str | None = None,
        **init_kwargs: Any,
    ) -> None:
        super().__init__()
        check_log_model(log_model, "TetherLogger()", accepted=(False, True, "all"))
        check_model_name(checkpoint_name, "TetherLogger()", argument="checkpoint_name")
        if save_dir is not None:
            given = init_kwargs.get("dir")
            if given is not None and os.fspath(given) != os.fspath(save_dir):
                raise TypeError(
                    f"TetherLogger(): save_dir={os.fspath(save_dir)!r} and "
                    f"dir={os.fspath(given)!r} name two folders for the runs; pass one of them"
                )
            init_kwargs["dir"] = save_dir
        self._handle = RunHandle(run, init_kwargs, owner="TetherLogger()")
        self._rank_zero_only = rank_zero_only
        self._log_model = log_model
        self._checkpoint_name = checkpoint_name
        self._checkpoint_callback: ModelCheckpoint | None = None  # to log at the end (True)
        self._logged_model_time: dict[str, float] = {}  # path -> mtime when logged
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

    def log_image(
        self,
        key: str,
        images: Sequence[Any],
        step: int | None = None,
        caption: Sequence[str | None] | None = None,
        **kwargs: Any,
    ) -> None:
        """Log ``images`` (tensors, arrays, PIL images, paths or ``tether.Image``) under
        ``key`` at ``step``, as ``WandbLogger.log_image``: ``caption`` and any other keyword
        (``format``, "png" or "jpeg") are lists with one entry per image."""
        per_image = _per_image(key, images, {"caption": caption, **kwargs})
        run = self._handle.get()
        if self._rank_zero_only and not _is_rank_zero():
            return
        media = [
            image
            if isinstance(image, Image) and not per_image
            else Image(image, **{name: values[i] for name, values in per_image.items()})
            for i, image in enumerate(images)
        ]
        run.log({key: media}, step=step)

    def log_table(
        self,
        key: str,
        columns: list[str] | None = None,
        data: list[list[Any]] | None = None,
        dataframe: Any = None,
        step: int | None = None,
    ) -> None:
        """Log a table under ``key`` at ``step``, as ``WandbLogger.log_table``: ``columns``
        and ``data`` (a list of rows), or a pandas ``dataframe``. Cells are numbers, strings,
        bools, None or ``tether.Image``."""
        if dataframe is not None and (columns is not None or data is not None):
            raise TypeError(
                f"TetherLogger.log_table({key!r}): pass dataframe= alone, or columns= and "
                "data=, not both"
            )
        if dataframe is None and (columns is None or data is None):
            raise TypeError(
                f"TetherLogger.log_table({key!r}): pass columns= (a list of names) and data= "
                "(a list of rows), or dataframe="
            )
        table = (
            Table(dataframe=dataframe)
            if dataframe is not None
            else Table(columns=columns, rows=data)
        )
        run = self._handle.get()
        if self._rank_zero_only and not _is_rank_zero():
            return
        run.log({key: table}, step=step)

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
        if self._log_model == "all" or (
            self._log_model is True and getattr(callback, "save_top_k", None) == -1
        ):
            self._log_checkpoints(run, callback)
        elif self._log_model is True:
            self._checkpoint_callback = checkpoint_callback

    def finalize(self, status: str) -> None:
        """Record how the trainer's run ended (``_train_end``); the tether run stays open."""
        callback, self._checkpoint_callback = self._checkpoint_callback, None
        if callback is not None and status == "success" and _is_rank_zero():
            self._log_checkpoints(self._handle.get(), callback)
        state = FINAL_STATES.get(status, RunState.KILLED)
        if state is RunState.FAILED and isinstance(sys.exc_info()[1], KeyboardInterrupt):
            state = RunState.KILLED  # Lightning reports Ctrl-C as "failed", then calls sys.exit(1)
        self._handle.train_ended(state, rank_zero=_is_rank_zero())

    def _log_checkpoints(self, run: Run, callback: Any) -> None:
        """Log the checkpoints of ``callback`` not logged yet (or rewritten since), oldest first."""
        name = self._checkpoint_name or default_name(run)
        best = getattr(callback, "best_model_path", None)
        for mtime, path, score in _new_checkpoints(callback, self._logged_model_time):
            metadata = {
                "score": score,
                "original_filename": Path(path).name,
                callback.__class__.__name__: {  # a weakref.proxy: type() would say so
                    key.lstrip("_"): getattr(callback, key)
                    for key in _CHECKPOINT_SETTINGS
                    if hasattr(callback, key)
                },
            }
            aliases = ("latest", "best") if path == best else ("latest",)
            if log_model(
                run, path, name=name, metadata=metadata, aliases=aliases, owner="TetherLogger"
            ):
                self._logged_model_time[path] = mtime

    def __repr__(self) -> str:
        return f"TetherLogger(run={self._handle.run!r})"


_CHECKPOINT_SETTINGS = (
    "monitor",
    "mode",
    "save_last",
    "save_top_k",
    "save_weights_only",
    "_every_n_train_steps",
)


def _new_checkpoints(callback: Any, logged: dict[str, float]) -> list[tuple[float, str, Any]]:
    """``(mtime, path, score)`` of each checkpoint file the callback knows of that is not in
    ``logged`` with this mtime, oldest first (the best written last wins its alias)."""
    found: dict[str, Any] = {}
    last = getattr(callback, "last_model_path", None)
    if last:
        found[last] = getattr(callback, "current_score", None)
    for path, score in dict(getattr(callback, "best_k_models", None) or {}).items():
        found[path] = score
    best = getattr(callback, "best_model_path", None)
    if best:
        found[best] = getattr(callback, "best_model_score", None)
    checkpoints = []
    for path, score in found.items():
        try:
            mtime = os.stat(path).st_mtime
        except OSError:  # rotated away by top-k since: nothing to log
            continue
        if logged.get(path, -1.0) < mtime:
            checkpoints.append((mtime, path, score))
    return sorted(checkpoints, key=lambda item: (item[0], item[1] == best))


def _per_image(key: str, images: Any, options: dict[str, Any]) -> dict[str, Sequence[Any]]:
    """The per-image keywords given (None left out), each checked to hold one per image."""
    where = f"TetherLogger.log_image({key!r})"
    if isinstance(images, str | bytes) or not isinstance(images, Sequence):
        raise TypeError(
            f"{where}: images is a {type(images).__name__}; pass a list of images (tensors, "
            "arrays, PIL images or paths), e.g. images=[x] for one or list(batch) for a batch"
        )
    unknown = sorted(set(options) - {"caption", "format"})
    if unknown:
        raise TypeError(
            f"{where}: {', '.join(unknown)} not supported; tether.Image takes caption= and "
            "format= (a list with one entry per image)"
        )
    given = {name: values for name, values in options.items() if values is not None}
    for name, values in given.items():
        if isinstance(values, str) or not isinstance(values, Sequence):
            raise TypeError(
                f"{where}: {name} is a {type(values).__name__}; pass a list with one entry per "
                f"image, e.g. {name}=[...] of length {len(images)}"
            )
        if len(values) != len(images):
            raise ValueError(
                f"{where}: {name} has {len(values)} entries for {len(images)} images; give one "
                "per image"
            )
    return given


def _is_rank_zero() -> bool:
    return int(getattr(rank_zero_only, "rank", 0)) == 0


def _root_of(run_dir: Path) -> Path:
    """``<dir>`` for a run in ``<dir>/tether/run-...`` (or a disabled run's ``<dir>/tether``)."""
    for folder in (run_dir, *run_dir.parents):
        if folder.name == RUNS_DIRNAME:
            return folder.parent
    return run_dir
