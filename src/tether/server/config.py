"""Server settings: command-line options, then ``TETHER_SERVER_*`` variables, then defaults.

Every environment variable the server reads is read here, in ``server_settings``, through
the table of ``tether._env_vars`` (``docs/settings.md``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tether import _env_vars

MAX_BODY_BYTES: Final = 16 * 1024 * 1024
UPLOADS_PER_USER: Final = 4
SERIES_CACHE_BYTES: Final = 64 * 2**20
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
    # Where media and artifact bytes live: None for ``<data dir>/blobs``, else ``file:///path``
    # or ``s3://bucket/prefix`` (``tether.server.blobs``).
    blob_url: str | None = None
    # The grouped lines' series kept between requests (``series_cache``); 0 keeps none.
    series_cache_bytes: int = SERIES_CACHE_BYTES

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
    blob_url: str | None = None,
    use_environment: bool = True,
) -> ServerSettings:
    """Settings from the arguments, then (with ``use_environment``) ``TETHER_SERVER_*``."""
    env = os.environ if use_environment else {}
    directory = Path(
        data_dir or _env_vars.get(_env_vars.SERVER_DATA_DIR, env) or "tether-server"
    ).expanduser()
    directory = directory.absolute()
    url = (
        database_url
        or _env_vars.get(_env_vars.SERVER_DATABASE_URL, env)
        or f"sqlite:///{directory / 'tether.db'}"
    )
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    from_env = _env_vars.get(_env_vars.SERVER_ALLOWED_HOSTS, env) or ""
    hosts = [*allowed_hosts, *from_env.split(",")]
    uploads = _env_vars.get(_env_vars.SERVER_UPLOADS_PER_USER, env) or ""
    if uploads and not (uploads.isdigit() and int(uploads) >= 1):
        variable = _env_vars.SERVER_UPLOADS_PER_USER
        raise ValueError(
            f"{variable.name}={uploads!r}: must be {variable.form}, e.g. {UPLOADS_PER_USER}"
        )
    cache_mb = _env_vars.get(_env_vars.SERVER_SERIES_CACHE_MB, env) or ""
    if cache_mb and not cache_mb.isdigit():
        variable = _env_vars.SERVER_SERIES_CACHE_MB
        raise ValueError(f"{variable.name}={cache_mb!r}: must be {variable.form}, e.g. 64")
    return ServerSettings(
        data_dir=directory,
        database_url=url,
        allowed_hosts=tuple(host.strip().lower() for host in hosts if host.strip()),
        uploads_per_user=int(uploads) if uploads else UPLOADS_PER_USER,
        blob_url=blob_url or _env_vars.get(_env_vars.SERVER_BLOB_URL, env) or None,
        series_cache_bytes=int(cache_mb) * 2**20 if cache_mb else SERIES_CACHE_BYTES,
    )
