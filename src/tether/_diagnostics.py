"""How tether reports its own failures: one rate-limited warning, never an exception.

Our failures (disk full, a broken pipe, a capture path that misbehaves) must not reach the
training loop. They are reported as a ``TetherWarning`` at most once per kind of failure every
``REPEAT_AFTER_S`` seconds, and the caller carries on.
"""

from __future__ import annotations

import threading
import time
import warnings
from typing import Final

REPEAT_AFTER_S: Final = 60.0

_last_warned: dict[str, float] = {}
_lock = threading.Lock()
_local = threading.local()


class TetherWarning(RuntimeWarning):
    """tether could not do something for you; your training goes on and nothing was raised."""


def warn_failure(kind: str, message: str, *, always: bool = False) -> None:
    """Warn about one of our own failures, rate-limited per ``kind``; never raises.

    ``always`` skips the rate limit: for what must be said once at the end (data lost).
    """
    if getattr(_local, "warning", False):
        return  # a warning that fails to print must not warn about itself
    try:
        _local.warning = True
        now = time.monotonic()
        with _lock:
            last = _last_warned.get(kind)
            if not always and last is not None and now - last < REPEAT_AFTER_S:
                return
            _last_warned[kind] = now
        import logging  # here, not at import: most processes never warn

        logging.getLogger("tether").debug("%s: %s", kind, message)
        warnings.warn(f"tether: {message}", TetherWarning, stacklevel=2)
    except Exception:
        pass
    finally:
        _local.warning = False


def reset_after_fork() -> None:
    """A fork child starts with fresh rate limits and a lock nobody holds."""
    global _lock
    _lock = threading.Lock()
    _last_warned.clear()
