"""Model checkpoints as artifacts, for every integration's ``log_model``.

An integration logs a model on the user's behalf: the user did nothing wrong if the file is
gone by then (Lightning's top-k rotation deletes checkpoints it no longer keeps) or the disk
refuses the snapshot, so no failure here stops training. Each becomes one rate-limited
warning (``tether._diagnostics.warn_failure``) and training goes on; what was logged before
stays logged.

Names follow ``WandbLogger``'s: ``model-<run id>``, one artifact per run whose versions are
the checkpoints, so ``model-<id>:best`` and ``model-<id>:latest`` name what a reader wants.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tether._diagnostics import warn_failure
from tether.artifacts.manifest import check_name
from tether.integrations._plain import plain_config

if TYPE_CHECKING:
    from tether import Run

LogModel = bool | Literal["all"]


def default_name(run: Run) -> str:
    """The artifact a run's checkpoints are versions of: ``model-<run id>``."""
    return f"model-{run.id}"


def check_log_model(value: object, owner: str, *, accepted: Sequence[object]) -> None:
    """Refuse a ``log_model`` value the integration does not take, naming the choices."""
    if isinstance(value, bool) and value in accepted:
        return
    if isinstance(value, str) and value in accepted:
        return
    choices = ", ".join(repr(choice) for choice in accepted)
    raise ValueError(f"{owner}: log_model={value!r}; pass one of {choices}")


def check_model_name(name: object, owner: str, *, argument: str) -> None:
    """Refuse, at construction, an artifact name ``log_artifact`` would refuse later."""
    if name is None:
        return
    try:
        check_name(name)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{owner}: {argument}={name!r:.80}: {exc}") from None


def log_model(
    run: Run,
    path: str | Path,
    *,
    name: str,
    metadata: Mapping[str, Any],
    aliases: Sequence[str],
    owner: str,
) -> bool:
    """Log ``path`` (a file or a folder) as the next version of ``name``; False if it failed.

    ``metadata`` is made plain first (tensors become numbers, paths strings), so a framework's
    objects never make the call fail.
    """
    try:
        run.log_artifact(
            path,
            name,
            type="model",
            metadata=plain_config(metadata),
            aliases=tuple(aliases),
        )
    except Exception as exc:  # not the user's doing: training goes on
        warn_failure(
            "log-model",
            f"{owner}: the model at {path} was not logged as artifact {name!r} "
            f"({type(exc).__name__}: {exc}); training goes on",
        )
        return False
    return True
