"""Hugging Face Transformers: ``TetherCallback`` logs a ``Trainer`` to tether.

>>> from tether.integrations.transformers import TetherCallback    # doctest: +SKIP
>>> trainer = Trainer(model, args, train_dataset=ds, callbacks=[TetherCallback(project="p")])

The run's config is the ``TrainingArguments`` (``args.to_dict()``) with the model's config
under ``model``. Every ``Trainer.log`` call (``on_log``) becomes a row at
``state.global_step``: training values as ``train/<key>``, evaluation values as
``eval/<key>``, ``epoch`` as is. The one-off totals logged when training ends
(``train_runtime``, ``train_loss``, ...) go to the run's summary.

The model (``log_model=True``): when training ends, process zero saves the model as it
stands (``save_pretrained``, with the tokenizer or processor the ``Trainer`` holds) into a
temporary folder and logs that folder as a version of the artifact ``model-<run id>``
(``model_name=`` to choose another). With ``load_best_model_at_end=True`` that model is the
best checkpoint's, and the version gets the alias ``best`` beside ``latest``; the metadata
holds the step, the epoch and, where the ``Trainer`` tracked one, the best metric
(``score``, ``metric_for_best_model``) and the best checkpoint's folder.

Processes: under ``torchrun`` or ``accelerate launch`` every process joins the same run, so
each rank's console is recorded under its label; only the world's process zero logs.

Lifetime: the end of ``train()`` is recorded in the summary (``_train_end``); the run stays
open, and keeps every rank's console, until ``tether.finish()``, the next ``tether.init()``
(a new callback's run included) or the end of the process (see
``tether.integrations._handle``). Another ``train()`` with the same callback continues it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from tether._diagnostics import warn_failure
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

OWNER = "transformers TetherCallback()"

# Keys of the log Trainer writes once, when training ends: totals, not a point of a series.
_TOTALS = frozenset(
    {"train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos"}
)


class TetherCallback(TrainerCallback):
    """Log a Hugging Face ``Trainer`` to tether.

    Args:
        run: a run to write to; by default one is started with ``tether.init(**init_kwargs)``
            when training begins.
        log_model: log the final model (the best one with ``load_best_model_at_end``) as an
            artifact when training ends.
        model_name: the artifact's name (``model-<run id>`` by default).
        **init_kwargs: passed to ``tether.init()`` (``project``, ``name``, ``config``, ...).
    """

    def __init__(
        self,
        *,
        run: Run | None = None,
        log_model: bool = False,
        model_name: str | None = None,
        **init_kwargs: Any,
    ) -> None:
        check_log_model(log_model, OWNER, accepted=(False, True))
        check_model_name(model_name, OWNER, argument="model_name")
        self._handle = RunHandle(run, init_kwargs, owner=OWNER)
        self._log_model = log_model
        self._model_name = model_name

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
        if self._log_model and state.is_world_process_zero:
            self._log_final_model(args, state, kwargs)
        self._handle.train_ended(RunState.FINISHED, rank_zero=state.is_world_process_zero)

    def _log_final_model(
        self, args: TrainingArguments, state: TrainerState, objects: dict[str, Any]
    ) -> None:
        model = objects.get("model")
        if model is None or not hasattr(model, "save_pretrained"):
            return
        best = bool(args.load_best_model_at_end and state.best_model_checkpoint)
        metadata: dict[str, Any] = {"step": state.global_step, "epoch": state.epoch}
        if state.best_metric is not None:
            metadata["score"] = state.best_metric
            metadata["metric_for_best_model"] = args.metric_for_best_model
        if state.best_model_checkpoint:
            metadata["best_model_checkpoint"] = Path(state.best_model_checkpoint).name
        run = self._handle.get()
        name = self._model_name or default_name(run)
        aliases = ("latest", "best") if best else ("latest",)
        # Snapshotted when logged: the folder can go as soon as log_artifact returns.
        with tempfile.TemporaryDirectory(prefix="tether-model-") as folder:
            try:
                model.save_pretrained(folder)
                processor = objects.get("processing_class") or objects.get("tokenizer")
                if processor is not None and hasattr(processor, "save_pretrained"):
                    processor.save_pretrained(folder)
            except OSError as exc:  # a full disk: the training itself went well
                warn_failure(
                    "log-model",
                    f"transformers TetherCallback: the final model was not saved for artifact "
                    f"{name!r} ({exc}); the run goes on without it",
                )
                return
            log_model(run, folder, name=name, metadata=metadata, aliases=aliases, owner=OWNER)


def _series_key(key: str) -> str:
    if key == "epoch":
        return key
    for prefix in ("eval", "test"):
        if key.startswith(prefix + "_"):
            return f"{prefix}/{key[len(prefix) + 1 :]}"
    return f"train/{key}"
