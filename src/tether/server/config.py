"""Server settings: command-line options, then ``TETHER_SERVER_*`` variables, then defaults.

Every environment variable the server reads is read here, in ``server_settings``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ENV_DATA_DIR: Final = "TETHER_SERVER_DATA_DIR"
ENV_DATABASE_URL: Final = "TETHER_SERVER_DATABASE_URL"
ENV_ADMIN_KEY: Final = "TETHER_SERVER_ADMIN_KEY"
# Comma-separated public names (``tether.example.org`` or ``tether.example.org:8443``) the
# server answers besides loopback names; `--allowed-host` adds to them.
ENV_ALLOWED_HOSTS: Final = "TETHER_SERVER_ALLOWED_HOSTS"
# How many segment uploads one user may have in flight at once; more are answered 429.
ENV_UPLOADS_PER_USER: Final = "TETHER_SERVER_UPLOADS_PER_USER"
MAX_BODY_BYTES: Final = 16 * 1024 * 1024
UPLOADS_PER_USER: Final = 4
LOOPBACK_NAMES: Final = ("127.0.0.1", "localhost", "[::1]")


@dataclass(frozen=True)
class ServerSettings:
    data_dir: Path
    database_url: str
    max_body_bytes: int = MAX_BODY_BYTES
    # `tether ui`: requests without a key act as this user (only ever bound to loopback).
    local_user: str | None = None
    # Host header values answered besides loopback names (empty: any, as before).
    allowed_hosts: tuple[str, ...] = ()
    # `tether ui`: only loopback names with the server's own port are answered.
    loopback_only: bool = False
    uploads_per_user: int = UPLOADS_PER_USER

    @property
    def files_dir(self) -> Path:
        """The file store: console archives, media and artifacts."""
        return self.data_dir / "files"

    @property
    def session_secret_path(self) -> Path:
        """The HMAC secret that signs the web UI's session cookies (mode 0600)."""
        return self.data_dir / "session.secret"

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, if the database is one."""
        if not self.database_url.startswith("sqlite"):
            return None
        path = self.database_url.split("///", 1)[-1]
        return Path(path) if path and path != ":memory:" else None


def server_settings(
    data_dir: str | Path | None = None,
    database_url: str | None = None,
    *,
    allowed_hosts: tuple[str, ...] = (),
    use_environment: bool = True,
) -> ServerSettings:
    """Settings from the arguments, then (with ``use_environment``) ``TETHER_SERVER_*``."""
    env = os.environ if use_environment else {}
    directory = Path(data_dir or env.get(ENV_DATA_DIR) or "tether-server").expanduser()
    directory = directory.absolute()
    url = database_url or env.get(ENV_DATABASE_URL) or f"sqlite:///{directory / 'tether.db'}"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    hosts = [*allowed_hosts, *env.get(ENV_ALLOWED_HOSTS, "").split(",")]
    uploads = env.get(ENV_UPLOADS_PER_USER, "")
    if uploads and not (uploads.isdigit() and int(uploads) >= 1):
        raise ValueError(
            f"{ENV_UPLOADS_PER_USER}={uploads!r}: must be a whole number of at least 1"
        )
    return ServerSettings(
        data_dir=directory,
        database_url=url,
        allowed_hosts=tuple(host.strip().lower() for host in hosts if host.strip()),
        uploads_per_user=int(uploads) if uploads else UPLOADS_PER_USER,
    )
