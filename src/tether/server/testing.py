"""Run a real tether server in a child process, for tests (ours and users').

>>> with LiveServer(tmp_path) as server:            # doctest: +SKIP
...     httpx.get(server.base_url + "/api/v1/viewer", headers=server.headers)
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

from tether import _env_vars

_LISTENING = re.compile(r"listening on (http://\S+)")

# Headless Debian chromium for the UI's browser tests and benchmark: no sandbox (root in CI),
# and none of the background connections that this machine's closed network refuses.
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)


class LiveServer:
    """``tether server`` on 127.0.0.1, started and stopped by pid; data survives restarts."""

    def __init__(
        self,
        data_dir: Path,
        *,
        database_url: str | None = None,
        api_key: str | None = None,
        port: int = 0,
    ) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.api_key = api_key or "tth_" + secrets.token_urlsafe(24)
        self.port = port
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.stderr_tail: list[str] = []

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def start(self, timeout: float = 60.0) -> LiveServer:
        command = [
            sys.executable, "-m", "tether.cli", "server",
            "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data_dir),
        ]  # fmt: skip
        if self.database_url:
            command += ["--database-url", self.database_url]
        env = {**os.environ, _env_vars.SERVER_ADMIN_KEY.name: self.api_key}
        self.process = subprocess.Popen(
            command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
        )
        assert self.process.stderr is not None
        deadline = time.monotonic() + timeout
        lines = []
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            lines.append(line)
            match = _LISTENING.search(line)
            if match:
                self.base_url = match.group(1)
                self.port = int(self.base_url.rsplit(":", 1)[1])
                # Keep reading stderr: a server that logs a lot must never block on the pipe.
                self.stderr_tail = lines
                threading.Thread(target=self._drain, args=(self.process,), daemon=True).start()
                self._wait_ready(deadline)
                return self
        self.stop()
        raise RuntimeError("tether server did not start:\n" + "".join(lines))

    def _drain(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            self.stderr_tail = [*self.stderr_tail[-200:], line]

    def _wait_ready(self, deadline: float) -> None:
        import httpx

        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base_url + "/api/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"tether server at {self.base_url} never answered")

    def stop(self, *, kill: bool = False) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
