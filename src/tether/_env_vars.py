"""Every ``TETHER_*`` environment variable, client and server, in one table.

Each entry says the variable's accepted form, its default and what it means; ``docs/settings.md``
is this table (``tests/test_settings_table.py`` checks both, and that no other module reads a
``TETHER_*`` variable itself). Values are read when asked (``init()``, a server start), never
at import. A bad value raises ``UsageError`` naming the variable and the accepted form.

A leaf module (it imports only ``tether.errors``), so the client, the process hooks, the
capture and the server can all read through it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from tether.errors import UsageError


class Variable(NamedTuple):
    name: str
    # What a value must look like; error messages and docs/settings.md say it this way.
    form: str
    # What applies while the variable is unset.
    default: str
    meaning: str
    # "client" (tether.init() and the CLI), "server", or "internal": set by tether itself for
    # the processes it starts; never set these by hand.
    scope: str


# -- client: what init() takes from the environment (arguments win) ----------------------
PROJECT = Variable(
    "TETHER_PROJECT", "text", "`default`", "Project of a run started without `project=`.", "client"
)
NAME = Variable("TETHER_NAME", "text", "a generated name", "Name of the run.", "client")
DIR = Variable(
    "TETHER_DIR",
    "a directory",
    "the working directory",
    "Runs are stored under `<dir>/tether/`; the CLI looks there too.",
    "client",
)
MODE = Variable(
    "TETHER_MODE",
    "`online`, `offline` or `disabled`",
    "the directory's (`tether online\\|offline\\|disabled`), else `online` with an API key, "
    "else `offline`",
    "Upload while running, store locally only, or make every call a no-op.",
    "client",
)
GROUP = Variable(
    "TETHER_GROUP",
    "text",
    "none",
    "Group of the run; with a group, spawned children start runs of their own.",
    "client",
)
JOB_TYPE = Variable("TETHER_JOB_TYPE", "text", "none", "Job type of the run.", "client")
TAGS = Variable("TETHER_TAGS", "comma-separated tags", "none", "Tags of the run.", "client")
NOTES = Variable("TETHER_NOTES", "text", "none", "Notes of the run.", "client")
RUN_ID = Variable(
    "TETHER_RUN_ID",
    "1-64 letters, digits, `-` or `_`",
    "a new id (ranks of a launch derive one)",
    "Id of the run to start or resume; ranks of a multi-node launch join the run of this id.",
    "client",
)
RESUME = Variable(
    "TETHER_RESUME",
    "`allow`, `must` or `never`",
    "an existing id is an error",
    "Whether `init()` with an existing run id continues that run.",
    "client",
)
CONSOLE = Variable(
    "TETHER_CONSOLE",
    "`wrap`, `fd` or `off`",
    "`wrap`",
    "Console capture: `sys.stdout`/`sys.stderr`, file descriptors 1 and 2, or none.",
    "client",
)
WRITER_LABEL = Variable(
    "TETHER_WRITER_LABEL",
    "text",
    "`main`, `rank<N>`, `worker<N>` or `pid<N>`",
    "Label of this process's writer.",
    "client",
)
SYSTEM_INTERVAL_S = Variable(
    "TETHER_SYSTEM_INTERVAL_S",
    "seconds >= 0",
    "10",
    "Seconds between system-metrics samples; 0 turns them off.",
    "client",
)
BASE_URL = Variable(
    "TETHER_BASE_URL",
    "`http(s)://host:port`",
    "the last `tether login`'s, else `http://127.0.0.1:8080`",
    "The server that online runs, `tether sync` and `tether.Api` talk to.",
    "client",
)
API_KEY = Variable(
    "TETHER_API_KEY",
    "an API key",
    "the last `tether login`'s",
    "The key for that server.",
    "client",
)
RANK0_WAIT_S = Variable(
    "TETHER_RANK0_WAIT_S",
    "seconds >= 0",
    "30 (5 on a node other than rank 0's)",
    "How long ranks of a launcher (torchrun) wait for rank 0 to create the run.",
    "client",
)
MEDIA_QUEUE_BYTES = Variable(
    "TETHER_MEDIA_QUEUE_BYTES",
    "an integer >= 1048576 (bytes)",
    "268435456 (256 MiB)",
    "Media logged and not yet encoded, per process; past it new media are dropped and counted.",
    "client",
)
FINISH_GRACE_S = Variable(
    "TETHER_FINISH_GRACE_S",
    "seconds >= 0",
    "2",
    "How long `finish()` waits for child processes still writing to the run.",
    "client",
)
UPLOAD_TIMEOUT_S = Variable(
    "TETHER_UPLOAD_TIMEOUT_S",
    "seconds >= 0",
    "30",
    "How long `finish()` of an online run waits for the upload while it makes progress.",
    "client",
)

# -- internal: set by tether for the processes it starts ---------------------------------
ATTACH_RUN_DIR = Variable(
    "TETHER_ATTACH_RUN_DIR",
    "a run directory",
    "unset",
    "Set by `init()`: the run that spawned children join.",
    "internal",
)
ATTACH_OWNER_PID = Variable(
    "TETHER_ATTACH_OWNER_PID",
    "a process id",
    "unset",
    "Set by `init()`: the process that created that run (it does not join its own run).",
    "internal",
)
CAPTURE_PIPES = Variable(
    "TETHER_CAPTURE_PIPES",
    "comma-separated `device:inode`",
    "unset",
    "Set by fd capture: its pipes, so a child writing into one does not record twice.",
    "internal",
)

# -- server: `tether server` (command-line options win) ----------------------------------
SERVER_DATA_DIR = Variable(
    "TETHER_SERVER_DATA_DIR",
    "a directory",
    "`./tether-server`",
    "The server's database (SQLite) and files.",
    "server",
)
SERVER_DATABASE_URL = Variable(
    "TETHER_SERVER_DATABASE_URL",
    "`sqlite:///path` or `postgresql://user@host/db`",
    "SQLite in the data directory",
    "The server's database.",
    "server",
)
SERVER_ADMIN_KEY = Variable(
    "TETHER_SERVER_ADMIN_KEY",
    "an API key",
    "the first start makes one and shows it once",
    "The `admin` user's key, registered at start (a different one revokes the old).",
    "server",
)
SERVER_ALLOWED_HOSTS = Variable(
    "TETHER_SERVER_ALLOWED_HOSTS",
    "comma-separated `name` or `name:port`",
    "any Host",
    "Public names the server answers besides loopback names (`--allowed-host` adds).",
    "server",
)
SERVER_UPLOADS_PER_USER = Variable(
    "TETHER_SERVER_UPLOADS_PER_USER",
    "an integer >= 1",
    "4",
    "Segment uploads one user may have in flight at once; more are answered 429.",
    "server",
)

SERVER_SERIES_CACHE_MB = Variable(
    "TETHER_SERVER_SERIES_CACHE_MB",
    "an integer >= 0",
    "64",
    "MiB of a project's series kept between grouped-lines requests, per database; 0 keeps none.",
    "server",
)

SERVER_BLOB_URL = Variable(
    "TETHER_SERVER_BLOB_URL",
    "`file:///path` or `s3://bucket/prefix`",
    "`blobs/` in the data directory",
    "Where media and artifact bytes live (S3: the usual `AWS_*` credential variables).",
    "server",
)

VARIABLES: tuple[Variable, ...] = tuple(v for v in globals().values() if isinstance(v, Variable))


def get(variable: Variable, environ: Mapping[str, str] | None = None) -> str | None:
    """The variable's raw value (None when unset) from ``environ`` (default ``os.environ``)."""
    return (os.environ if environ is None else environ).get(variable.name)


def seconds(variable: Variable, default: float, environ: Mapping[str, str] | None = None) -> float:
    """A duration in seconds (negative counts as 0); ``default`` while unset."""
    raw = get(variable, environ)
    if raw is None:
        return default
    try:
        return max(0.0, float(raw))
    except ValueError:
        raise UsageError(
            f"{variable.name}={raw!r} is not a number of seconds ({variable.form}); set it to "
            f"e.g. {default:g}"
        ) from None


def markdown_table(scope: str) -> str:
    """The variables of one scope as ``docs/settings.md`` shows them."""
    lines = ["| variable | accepted | default | meaning |", "|---|---|---|---|"]
    lines += [
        f"| `{v.name}` | {v.form} | {v.default} | {v.meaning} |"
        for v in VARIABLES
        if v.scope == scope
    ]
    return "\n".join(lines) + "\n"
