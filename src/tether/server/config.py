"""Server settings: command-line options, then ``TETHER_SERVER_*`` variables, then defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ENV_DATA_DIR: Final = "TETHER_SERVER_DATA_DIR"
ENV_DATABASE_URL: Final = "TETHER_SERVER_DATABASE_URL"
ENV_ADMIN_KEY: Final = "TETHER_SERVER_ADMIN_KEY"
MAX_BODY_BYTES: Final = 16 * 1024 * 1024


@dataclass(frozen=True)
class ServerSettings:
    data_dir: Path
    database_url: str
    max_body_bytes: int = MAX_BODY_BYTES
    # `tether ui`: requests without a key act as this user (only ever bound to loopback).
    local_user: str | None = None

    @property
    def files_dir(self) -> Path:
        """The file store: console archives, media and artifacts."""
        return self.data_dir / "files"


def server_settings(
    data_dir: str | Path | None = None, database_url: str | None = None
) -> ServerSettings:
    directory = Path(data_dir or os.environ.get(ENV_DATA_DIR) or "tether-server").expanduser()
    directory = directory.absolute()
    url = database_url or os.environ.get(ENV_DATABASE_URL) or f"sqlite:///{directory / 'tether.db'}"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return ServerSettings(data_dir=directory, database_url=url)
