"""Keras 3: ``TetherCallback`` logs ``model.fit`` to tether, on any backend.

>>> from tether.integrations.keras import TetherCallback        # doctest: +SKIP
>>> model.fit(x, y, epochs=2, callbacks=[TetherCallback(project="p")])   # doctest: +SKIP

Per training batch: ``batch/<metric>`` (Keras's running values for the epoch so far). Per
epoch: ``epoch/<metric>`` (validation ones as ``epoch/val_<metric>``) and ``epoch``. Steps
count training batches across every ``fit`` of the callback. The config holds ``fit``'s
parameters (``epochs``, ``steps``), the optimizer's config, the loss and the model's size.

Lifetime: the end of each ``fit`` is recorded in the summary (``_train_end``); the run stays
open, and keeps recording the console, until ``tether.finish()``, the next ``tether.init()``
(a new callback's run included) or the end of the process (see
``tether.integrations._handle``). The next ``fit`` with the same callback continues it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keras.callbacks import Callback  # type: ignore[import-untyped, unused-ignore]

from tether.integrations._handle import RunHandle
from tether.integrations._plain import numeric_metrics, plain_config
from tether.store.states import RunState

if TYPE_CHECKING:
    from tether import Run

__all__ = ["TetherCallback"]


class TetherCallback(Callback):  # type: ignore[misc]
    """Log a Keras model's training to tether.

    Args:
        run: a run to write to; by default one is started with ``tether.init(**init_kwargs)``
            when training begins.
        log_batches: log every training batch (default), or only epochs.
        **init_kwargs: passed to ``tether.init()`` (``project``, ``name``, ``config``, ...).
    """

    def __init__(self, *, run: Run | None = None, log_batches: bool = True, **init_kwargs: Any):
        super().__init__()
        self._handle = RunHandle(run, init_kwargs, owner="keras TetherCallback()")
        self._log_batches = log_batches
        self._batches_done = 0

    @property
    def tether_run(self) -> Run | None:
        """The run written to, once training began (or the one passed as ``run=``)."""
        return self._handle.run

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        run = self._handle.get()
        run.config.update(plain_config(_fit_config(self.model, self.params or {})))

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        step = self._batches_done
        self._batches_done += 1
        if self._log_batches and logs:
            values = {f"batch/{key}": value for key, value in numeric_metrics(logs).items()}
            self._handle.get().log(values, step=step)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        values: dict[str, Any] = {
            f"epoch/{key}": value for key, value in numeric_metrics(logs or {}).items()
        }
        values["epoch"] = epoch
        self._handle.get().log(values, step=max(self._batches_done - 1, 0))

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._handle.train_ended(RunState.FINISHED)


def _fit_config(model: Any, params: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {key: params[key] for key in ("epochs", "steps") if key in params}
    if model is None:
        return config
    config["model"] = getattr(model, "name", type(model).__name__)
    try:
        config["parameters"] = int(model.count_params())
    except (ValueError, AttributeError):
        pass  # not built yet
    loss = getattr(model, "loss", None)
    if loss is not None:
        config["loss"] = loss if isinstance(loss, str) else getattr(loss, "name", str(loss))
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and hasattr(optimizer, "get_config"):
        config["optimizer"] = optimizer.get_config()
    return config
