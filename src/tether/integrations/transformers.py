"""Hugging Face Transformers: ``TetherCallback`` logs a ``Trainer`` to tether.

>>> from tether.integrations.transformers import TetherCallback    # doctest: +SKIP
>>> trainer = Trainer(model, args, train_dataset=ds, callbacks=[TetherCallback(project="p")])

The run's config is the ``TrainingArguments`` (``args.to_dict()``) with the model's config
under ``model``. Every ``Trainer.log`` call (``on_log``) becomes a row at
``state.global_step``: training values as ``train/<key>``, evaluation values as
``eval/<key>``, ``epoch`` as is. The one-off totals logged when training ends
(``train_runtime``, ``train_loss``, ...) go to the run's summary.

Processes: under ``torchrun`` or ``accelerate launch`` every process joins the same run, so
each rank's console is recorded under its label; only the world's process zero logs.

Lifetime: the end of ``train()`` is recorded in the summary (``_train_end``); the run stays
open, and keeps every rank's console, until ``tether.finish()``, the next ``tether.init()``
(a new callback's run included) or the end of the process (see
``tether.integrations._handle``). Another ``train()`` with the same callback continues it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from tether.integrations._handle import RunHandle
from tether.integrations._plain import numeric_metrics, plain_config
from tether.store.states import RunState

if TYPE_CHECKING:
    from tether import Run

__all__ = ["TetherCallback"]

# Keys of the log Trainer writes once, when training ends: totals, not a point of a series.
_TOTALS = frozenset(
    {"train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos"}
)


class TetherCallback(TrainerCallback):
    """Log a Hugging Face ``Trainer`` to tether.

    Args:
        run: a run to write to; by default one is started with ``tether.init(**init_kwargs)``
            when training begins.
        **init_kwargs: passed to ``tether.init()`` (``project``, ``name``, ``config``, ...).
    """

    def __init__(self, *, run: Run | None = None, **init_kwargs: Any) -> None:
        self._handle = RunHandle(run, init_kwargs, owner="transformers TetherCallback()")

    @property
    def tether_run(self) -> Run | None:
        """The run written to, once training began (or the one passed as ``run=``)."""
        return self._handle.run

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        **kwargs: Any,
    ) -> None:
        run = self._handle.get()  # every process: its console is recorded under its label
        if not state.is_world_process_zero:
            return
        arguments: Any = args  # to_dict() is not annotated
        config = plain_config(arguments.to_dict())
        model = kwargs.get("model")
        model_config = getattr(model, "config", None)
        if model_config is not None and hasattr(model_config, "to_dict"):
            config["model"] = plain_config(model_config.to_dict())
        if model is not None and hasattr(model, "num_parameters"):
            config["model_parameters"] = int(model.num_parameters())
        run.config.update(config)

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not logs or not state.is_world_process_zero:
            return
        run = self._handle.get()
        values = numeric_metrics(logs)
        if _TOTALS.intersection(values):
            run.summary.update(values)
            return
        run.log({_series_key(key): value for key, value in values.items()}, step=state.global_step)

    def on_train_end(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        **kwargs: Any,
    ) -> None:
        self._handle.train_ended(RunState.FINISHED, rank_zero=state.is_world_process_zero)


def _series_key(key: str) -> str:
    if key == "epoch":
        return key
    for prefix in ("eval", "test"):
        if key.startswith(prefix + "_"):
            return f"{prefix}/{key[len(prefix) + 1 :]}"
    return f"train/{key}"
