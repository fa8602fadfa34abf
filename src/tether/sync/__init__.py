"""Getting runs to the server: the online ``Uploader`` thread and ``tether sync``.

Both send the segment files as they are on disk, whole frames only, and resume from what the
server acknowledged (``<run dir>/upload.json``, checked against ``GET .../segments``).
``httpx`` is imported only once a request is about to be made.
"""

from tether.sync.http import (
    AuthError,
    NotOnServerError,
    OffsetConflictError,
    ServerError,
    ServerUnreachableError,
)
from tether.sync.offline import RunSync, SyncReport, find_run_dirs, sync_paths
from tether.sync.uploader import Uploader

__all__ = [
    "AuthError",
    "NotOnServerError",
    "OffsetConflictError",
    "RunSync",
    "ServerError",
    "ServerUnreachableError",
    "SyncReport",
    "Uploader",
    "find_run_dirs",
    "sync_paths",
]
