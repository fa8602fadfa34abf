"""fastai: ``TetherCallback`` logs a ``Learner``'s config, losses and metrics to tether.

>>> from tether.integrations.fastai import TetherCallback        # doctest: +SKIP
>>> learn = Learner(dls, model, loss_func=MSELossFlat(), cbs=TetherCallback(project="p"))
>>> learn.fit(2)                                                 # doctest: +SKIP

Per training batch: ``train/loss`` (the raw loss), ``train/smooth_loss`` and the optimizer's
``lr`` (and ``mom`` where it has one). Per epoch: fastai's own table (``train_loss``,
``valid_loss``, each metric) and ``epoch``. Steps count training batches across every ``fit``
of the callback, so ``fine_tune`` (two fits) makes one rising series.

Predictions (``log_preds=True``), as ``WandbCallback``'s: each epoch, a table ``predictions``
of the first ``n_preds`` validation samples, decoded as fastai shows them: the inputs (images
as ``tether.Image``), the target, the prediction and its loss, one row a sample. The same
samples every epoch, so a reader follows them as the model learns.

The model (``log_model=True``), as ``WandbCallback``'s: with fastai's ``SaveModelCallback``
among the learner's callbacks, the file it saved last is logged when each ``fit`` ends, as a
version of the artifact ``model-<run id>`` (``model_name=`` to choose another), with the
alias ``latest``, and ``best`` when ``SaveModelCallback`` keeps the best model (its default);
the metadata holds the monitored value (``score``, ``monitor``) and the epoch's metrics.

Processes: under fastai's distributed training (``learn.distrib_ctx()`` in a script started by
``accelerate launch`` or ``torchrun``) every rank joins the same run, so each rank's console
is recorded under its rank; only rank 0 logs metrics and config.

Lifetime: the end of each ``fit`` is recorded in the summary (``_train_end``); the run stays
open, and keeps every rank's console, until ``tether.finish()``, the next ``tether.init()``
(a new callback's run included) or the end of the process (see
``tether.integrations._handle``). The next ``fit`` with the same callback continues it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastai.callback.core import Callback  # type: ignore[import-untyped, unused-ignore]
from fastai.callback.tracker import (  # type: ignore[import-untyped, unused-ignore]
    SaveModelCallback,
)
from fastai.learner import Recorder  # type: ignore[import-untyped, unused-ignore]
from fastai.torch_core import rank_distrib  # type: ignore[import-untyped, unused-ignore]

from tether._diagnostics import warn_failure
from tether.integrations._fastai_preds import PredictionSampler
from tether.integrations._handle import RunHandle
from tether.integrations._models import (
    check_log_model,
    check_model_name,
    default_name,
    log_model,
)
from tether.integrations._plain import numeric_metrics, plain_config
from tether.store.states import RunState

if TYPE_CHECKING:
    from tether import Run

__all__ = ["TetherCallback"]


class TetherCallback(Callback):  # type: ignore[misc]
    """Log a fastai ``Learner`` to tether.

    Args:
        run: a run to write to; by default one is started with ``tether.init(**init_kwargs)``
            when training starts.
        log_batches: log the loss and learning rate of every training batch (default), or
            only the per-epoch table.
        log_preds: log a table of predictions on validation samples each epoch.
        n_preds: how many validation samples that table holds (36).
        log_model: log the model ``SaveModelCallback`` saved as an artifact when each fit
            ends (needs a ``SaveModelCallback`` among the learner's callbacks).
        model_name: the artifact's name (``model-<run id>`` by default).
        **init_kwargs: passed to ``tether.init()`` (``project``, ``name``, ``config``, ...).

    ``cb.tether_run`` is the run (``cb.run`` is fastai's own on/off switch of a callback).
    """

    order = Recorder.order + 1  # after the Recorder has the epoch's values

    def __init__(
        self,
        *,
        run: Run | None = None,
        log_batches: bool = True,
        log_preds: bool = False,
        n_preds: int = 36,
        log_model: bool = False,
        model_name: str | None = None,
        **init_kwargs: Any,
    ):
        super().__init__()
        check_log_model(log_model, "fastai TetherCallback()", accepted=(False, True))
        check_model_name(model_name, "fastai TetherCallback()", argument="model_name")
        if isinstance(n_preds, bool) or not isinstance(n_preds, int) or n_preds < 1:
            raise ValueError(
                f"fastai TetherCallback(): n_preds={n_preds!r}; give how many validation "
                "samples the predictions table holds, a whole number >= 1 (36 by default)"
            )
        self._handle = RunHandle(run, init_kwargs, owner="fastai TetherCallback()")
        self._log_batches = log_batches
        self._batches_done = 0
        self._preds = PredictionSampler(n_preds) if log_preds else None
        self._log_model = log_model
        self._model_name = model_name

    @property
    def tether_run(self) -> Run | None:
        """The run written to, once training started (or the one passed as ``run=``)."""
        return self._handle.run

    # -- fastai events -------------------------------------------------------------------------
    def before_fit(self) -> None:
        if hasattr(self.learn, "lr_finder"):
            self.run = False  # lr_find() is a fit too; fastai turns us back on after it
            return
        run = self._handle.get()  # every rank: its console is recorded under its label
        if rank_distrib() == 0:
            run.config.update(plain_config(_learner_config(self.learn)))
        if self._log_model:
            if not isinstance(getattr(self.learn, "save_model", None), SaveModelCallback):
                raise ValueError(
                    "fastai TetherCallback(log_model=True): the learner has no "
                    "SaveModelCallback, so no model file to log; add one, e.g. "
                    "Learner(..., cbs=[SaveModelCallback(), TetherCallback(log_model=True)]), "
                    "or pass log_model=False"
                )
            # SaveModelCallback saves at_end in its own after_fit, which runs after ours.
            # One helper a learner: a fit that raised left its helper behind.
            self.learn.remove_cbs([cb for cb in self.learn.cbs if isinstance(cb, _LogSavedModel)])
            self.learn.add_cb(_LogSavedModel(self))

    def before_validate(self) -> None:
        if self._preds is not None:
            self._preds.clear()

    def after_batch(self) -> None:
        learn = self.learn
        if not learn.training and self._preds is not None and rank_distrib() == 0:
            self._preds.add(learn.xb, learn.yb, learn.pred)
        if not (self._log_batches and learn.training) or rank_distrib() != 0:
            return
        if learn.loss is None:
            return
        values: dict[str, Any] = {"train/loss": learn.loss, "train/smooth_loss": learn.smooth_loss}
        hypers = learn.opt.hypers[-1] if learn.opt is not None else {}
        values.update({key: hypers[key] for key in ("lr", "mom") if key in hypers})
        self._handle.get().log(numeric_metrics(values), step=self._batches_done + learn.iter)

    def after_train(self) -> None:
        self._batches_done += self.learn.n_iter  # the batches of this epoch, logged or not

    def after_epoch(self) -> None:
        if rank_distrib() != 0:
            return
        recorder = self.learn.recorder
        table = dict(zip(recorder.metric_names, recorder.log, strict=False))
        table.pop("time", None)
        values = numeric_metrics(table)
        step = max(self._batches_done - 1, 0)
        self._handle.get().log(values, step=step)
        if self._preds is not None and self._preds.count:
            try:
                predictions = self._preds.table(self.learn)
            except Exception as exc:  # a DataBlock whose outputs fastai cannot decode
                warn_failure(
                    "fastai-preds",
                    f"fastai TetherCallback: the predictions table of epoch {self.epoch} was "
                    f"not logged ({type(exc).__name__}: {exc}); training goes on",
                )
                return
            self._handle.get().log({"predictions": predictions}, step=step)

    def after_fit(self) -> None:
        self._handle.train_ended(RunState.FINISHED, rank_zero=rank_distrib() == 0)

    def _log_saved_model(self) -> None:
        """Log the file ``SaveModelCallback`` saved last (rank 0, which alone saves)."""
        saver = self.learn.save_model
        path = saver.last_saved_path
        if rank_distrib() != 0 or path is None:
            return
        recorder = self.learn.recorder
        metrics = dict(zip(recorder.metric_names, recorder.log, strict=False))
        for key in ("epoch", "time"):
            metrics.pop(key, None)
        metadata = {
            "score": getattr(saver, "best", None),
            "monitor": saver.monitor,
            "original_filename": path.name,
            **numeric_metrics(metrics),
        }
        run = self._handle.get()
        name = self._model_name or default_name(run)
        best = not saver.every_epoch and not saver.at_end  # the file holds the best model
        aliases = ("latest", "best") if best else ("latest",)
        log_model(run, path, name=name, metadata=metadata, aliases=aliases, owner="fastai")

    # -- pickling (``learn.export()`` saves callbacks) --------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        # An exported learner must not join this run wherever it is loaded.
        state["_handle"] = RunHandle(None, {}, owner="fastai TetherCallback()")
        if self._preds is not None:
            state["_preds"] = PredictionSampler(self._preds.limit)  # not this epoch's tensors
        return state


class _LogSavedModel(Callback):  # type: ignore[misc]
    """Logs the model after ``SaveModelCallback``'s ``after_fit`` (which may save it), then
    leaves the learner, so an exported learner carries no reference to the run."""

    order = SaveModelCallback.order + 1

    def __init__(self, owner: TetherCallback) -> None:
        super().__init__()
        self._owner = owner

    def after_fit(self) -> None:
        try:
            self._owner._log_saved_model()
        finally:
            self.learn.remove_cb(self)


def _learner_config(learn: Any) -> dict[str, Any]:
    """What a reader of the run wants to know about how the learner trains."""
    model = getattr(learn.model, "module", learn.model)  # under DistributedDataParallel
    config: dict[str, Any] = {
        "epochs": learn.n_epoch,
        "model": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "loss_func": str(learn.loss_func),
        "opt_func": getattr(learn.opt_func, "__name__", str(learn.opt_func)),
        "metrics": [getattr(metric, "name", str(metric)) for metric in learn.metrics],
        "batch_size": getattr(learn.dls, "bs", None),
    }
    if learn.opt is not None and learn.opt.hypers:
        config.update(learn.opt.hypers[-1])
    try:
        config["train_size"] = len(learn.dls.train_ds)
        config["valid_size"] = len(learn.dls.valid_ds)
    except (AttributeError, TypeError, IndexError):
        pass
    return config
