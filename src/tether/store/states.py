"""The states of a run, in one enum that the client, the server and the web UI share.

A leaf module (it imports nothing of tether) so that every layer can use it. The web UI
takes the list from the server (the runs list carries ``states``, each run ``live``) instead
of spelling the names itself.
"""

from __future__ import annotations

import enum
from typing import Final


class RunState(str, enum.Enum):
    """A run's (or one writer's) state. Compares equal to its name as stored and sent
    (``RunState.RUNNING == "running"``), so rows read from a database compare directly."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"
    # Never written by a process: the process went away without writing how it ended.
    CRASHED = "crashed"

    def __str__(self) -> str:
        return self.value

    @property
    def terminal(self) -> bool:
        """Will the run's state change no more? (A crashed run can still be resumed.)"""
        return self is not RunState.RUNNING


# What a process may write as its end (``tether.finish(state=...)``, the final record).
ENDED_STATES: Final = (RunState.FINISHED, RunState.FAILED, RunState.KILLED)


def states_json() -> list[dict[str, object]]:
    """Every state with whether it is terminal, as the API sends them to the web UI."""
    return [{"name": state.value, "terminal": state.terminal} for state in RunState]


def is_live(state: str) -> bool:
    """Is a run in ``state`` (as stored: text) still going? Unknown text counts as ended."""
    return state == RunState.RUNNING
