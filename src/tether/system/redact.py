"""What the environment record may keep of the process's variables and of URLs: no secret.

Environment variables are read only from ``LAUNCHER_VARIABLES``, an allow-list; no other
variable's value is ever stored. Values that may be URLs (a rendezvous address, a git remote)
lose their user, password, query and fragment: ``https://user:token@host/x?t=1`` is kept as
``https://host/x`` and ``user:pass@host:path`` (scp-like ssh) as ``host:path``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

# The only environment variables whose values are stored, and the key each becomes.
LAUNCHER_VARIABLES: Final = {
    "RANK": "rank",
    "LOCAL_RANK": "local_rank",
    "WORLD_SIZE": "world_size",
    "MASTER_ADDR": "master_host",
    "SLURM_JOB_ID": "slurm_job_id",
    "CUDA_VISIBLE_DEVICES": "cuda_visible_devices",
}
_INTEGERS: Final = frozenset({"rank", "local_rank", "world_size"})
# A URL inside a command-line argument (``--db=postgresql://user:pass@host/x``).
_URL_IN_ARG: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
# scp-like ssh: [user[:password]@]host:path (no scheme).
_SCP_LIKE: Final = re.compile(r"^(?:[^@/]*@)?(?P<host>[^:/]+):(?P<path>(?!//).*)$")


def redact_arg(arg: str) -> str:
    """A command-line argument whose URLs (a database, a server) keep their host, not secrets."""
    if "://" not in arg:
        return arg
    return _URL_IN_ARG.sub(lambda match: strip_credentials(match[0]), arg)


def strip_credentials(url: str) -> str:
    """``url`` without its user, password, query or fragment (URL and scp-like forms)."""
    url = url.strip()
    if "://" in url:
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
            port = parts.port
        except ValueError:  # a malformed port or host: keep nothing that might hold a secret
            return _after_at(url)
        netloc = host if port is None else f"{host}:{port}"
        if ":" in host:  # an IPv6 literal keeps its brackets
            netloc = f"[{host}]" if port is None else f"[{host}]:{port}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    match = _SCP_LIKE.match(url)
    if match is not None:
        return f"{match['host']}:{match['path']}"
    return _after_at(url)


def host_of(value: str) -> str:
    """The host name alone of an address such as ``node01``, ``node01:29500`` or a URL."""
    value = value.strip()
    if "://" in value:
        try:
            return urlsplit(value).hostname or ""
        except ValueError:
            value = _after_at(value)
    value = _after_at(value).split("/", 1)[0]
    if value.startswith("["):  # [::1]:29500
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def launcher_section(environ: Mapping[str, str]) -> dict[str, Any]:
    """The launcher's allow-listed variables as ``{rank, local_rank, ..., master_host}``."""
    section: dict[str, Any] = {}
    for variable, key in LAUNCHER_VARIABLES.items():
        raw = environ.get(variable)
        if raw is None:
            continue
        if key in _INTEGERS:
            if raw.strip().isdigit():
                section[key] = int(raw)
        elif key == "master_host":
            section[key] = host_of(raw)
        elif key == "slurm_job_id":
            section[key] = _after_at(raw.strip())
        else:
            section[key] = raw.strip()
    return section


def _after_at(value: str) -> str:
    # Whatever stood before an '@' may be a user and a password.
    return value.rsplit("@", 1)[-1]
