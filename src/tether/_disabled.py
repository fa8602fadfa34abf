"""``mode="disabled"``: a run whose every call is a cheap no-op.

Code written for tether keeps running unchanged with tracking switched off: ``log`` returns
at once without looking at its argument, config and summary behave as plain dicts, and
nothing is written, started or patched.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tether import _registry
from tether._mappings import Config, Summary
from tether._run import Run
from tether._settings import Settings

if TYPE_CHECKING:
    from tether.artifacts.run_artifacts import RunArtifacts


def _ignore(record: list[Any]) -> None:
    return None


class DisabledRun(Run):
    """Has the shape of a ``Run``; records nothing."""

    def __init__(self, settings: Settings, config: dict[str, Any]) -> None:
        self._id = "disabled"
        self._dir = Path(settings.runs_dir)
        self._name = settings.name or "disabled"
        self._project = settings.project
        self._owner = False
        self._capture = None
        self.config = Config(_ignore, config)
        self.summary = Summary(_ignore, dict)
        self._finished = False

    @property
    def state(self) -> str:
        return "finished" if self._finished else "disabled"

    @property
    def writer_label(self) -> str:
        return "disabled"

    @property
    def step(self) -> int:
        return 0

    def log(self, data: dict[str, Any], *, step: int | None = None) -> None:
        return None

    def flush(self) -> bool:
        return True

    def _artifact_log(self) -> RunArtifacts:
        # log_artifact checks its arguments and stores nothing; use_artifact reads the local
        # index (<dir>/tether/artifacts) and records nothing.
        from tether.artifacts.run_artifacts import RunArtifacts

        return RunArtifacts(
            run_id=self._id,
            run_dir=self._dir / "disabled",
            project=self._project,
            record=_ignore,
            disabled=True,
        )

    def finish(self, exit_code: int = 0, *, state: str | None = None) -> None:
        if not self._finished:
            self._finished = True
            _registry.forget(self)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finish()

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # The process that unpickles it gets a disabled run too (through tether._client).
        return (_registry.reopen_disabled_function(), (self._project, self._name))

    def __repr__(self) -> str:
        return f"<tether.Run disabled {self._name!r}>"
