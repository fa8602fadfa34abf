"""The errors tether raises, and only into the caller that made the mistake.

Our own failures (disk full, a broken capture path, a server that is down) never reach
user code: they become one rate-limited warning and the data waits in memory or on disk.
What does reach user code is drawn here::

    TetherError                      every error tether raises on purpose
    ├── UsageError (ValueError)      the call itself is wrong: log() after finish(), a bad mode
    ├── RunNotFoundError (LookupError)  load_run()/CLI could not find the run asked for
    └── StoreError                   a run directory that is not a tether run at all

Bad keys and values raise the built-in ``TypeError``/``ValueError`` (through ``UsageError`` for
values) so that ``except ValueError`` in user code keeps working; every message names the key,
the offending type or value, and what to do instead.
"""

from __future__ import annotations

__all__ = ["RunNotFoundError", "StoreError", "TetherError", "UsageError"]


class TetherError(Exception):
    """Base class of every error tether raises on purpose."""


class UsageError(TetherError, ValueError):
    """A call that cannot be honoured as written; the message says how to fix it."""


class RunNotFoundError(TetherError, LookupError):
    """No run matches the id, name or path that was asked for."""


class StoreError(TetherError):
    """A directory or file that does not hold a tether run in a format this version reads."""
