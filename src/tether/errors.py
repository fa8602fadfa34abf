"""The errors tether raises, and only into the caller that made the mistake.

Our own failures (disk full, a broken capture path, a server that is down during a run) never
reach user code: they become one rate-limited warning and the data waits in memory or on
disk. What does reach user code is drawn here; every class is exported from ``tether``::

    TetherError                         every error tether raises on purpose
    ├── UsageError (ValueError)         the call itself is wrong: log() after finish(), a bad mode
    ├── RunNotFoundError (LookupError)  no run matches the id, name or path asked for
    │                                   (load_run(), the CLI, Api().run(), Api().runs())
    ├── ServerError                     the server answered with an error status (.status)
    │   ├── AuthError                   401/403: the key is missing, unknown or not allowed
    │   ├── NotOnServerError (LookupError)  404: no such project, run or route there
    │   └── OffsetConflictError         409: an upload past what the server has (.offset)
    └── ServerUnreachableError          no answer: refused, timed out, name not resolved

Bad keys and values raise the built-in ``TypeError``/``ValueError`` (through ``UsageError`` for
values) so that ``except ValueError`` in user code keeps working; every message names the key,
the offending type or value, and what to do instead. The server errors come from
``tether.Api``, ``tether sync`` and ``init(resume=...)`` of an online run.
"""

from __future__ import annotations

# Not `import typing`: tether/__init__.py imports this module, and typing alone would double
# the cost of `import tether`.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "AuthError",
    "NotOnServerError",
    "OffsetConflictError",
    "RunNotFoundError",
    "ServerError",
    "ServerUnreachableError",
    "TetherError",
    "UsageError",
]

# Statuses worth trying again later: the request was fine, the server was not (yet), or
# another upload raced this one (a 409 without an offset).
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class TetherError(Exception):
    """Base class of every error tether raises on purpose."""


class UsageError(TetherError, ValueError):
    """A call that cannot be honoured as written; the message says how to fix it."""


class RunNotFoundError(TetherError, LookupError):
    """No run matches the id, name or path that was asked for."""


class ServerError(TetherError):
    """The server answered with an error; ``status`` and ``detail`` say which."""

    def __init__(self, message: str, *, status: int, detail: Any = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        # The whole JSON answer: besides ``detail``, a refusal says where (``frame_offset``,
        # ``seq``, ``row``, ``field``) and a 413 how much fits (``limit``).
        self.body: dict[str, Any] = body if isinstance(body, dict) else {}

    def answer_int(self, name: str) -> int | None:
        value = self.body.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE_STATUSES


class AuthError(ServerError):
    """The server refused the key (401) or what it may do (403)."""


class NotOnServerError(ServerError, LookupError):
    """The server has no such project or run for this key's owner (or no such route): 404.

    ``tether.Api`` turns a missing run or project into ``RunNotFoundError``."""


class OffsetConflictError(ServerError):
    """An upload started past what the server has; resume from ``offset``."""

    def __init__(
        self, message: str, *, status: int, detail: Any, offset: int, body: Any = None
    ) -> None:
        super().__init__(message, status=status, detail=detail, body=body)
        self.offset = offset


class ServerUnreachableError(TetherError):
    """No answer from the server (connection refused, timeout, unknown host)."""

    retryable = True
