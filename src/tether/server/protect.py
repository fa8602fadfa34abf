"""What every response carries and every request must pass, whatever its route.

- **Host**: a DNS-rebinding page reaches a loopback server under its own name; answering only
  the names we know (loopback names, and the public names the admin gives) keeps it out.
  `tether ui` answers only loopback names with its own port.
- **Security headers**: a CSP without inline script, no MIME sniffing, no framing, no referrer.
- **File modes**: the data directory is 0700 and the SQLite files 0600, whatever the umask.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tether.server.config import LOOPBACK_NAMES, ServerSettings

# No inline script anywhere (the built index.html has none; tests check it). Styles may be
# inline: charts colour their series with style attributes, which cannot run code.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Final = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_SECURITY_HEADER_NAMES: Final = frozenset(name for name, _ in SECURITY_HEADERS)


@dataclass(frozen=True)
class AllowedHosts:
    """``Host`` values answered: these exact ``name:port`` values, or these names on any port."""

    exact: frozenset[str]
    any_port: frozenset[str]

    def allows(self, host: str) -> bool:
        host = host.lower()
        if host in self.exact:
            return True
        name = host.rpartition(":")[0] if _has_port(host) else host
        return name in self.any_port


def allowed_hosts(settings: ServerSettings, port: int) -> AllowedHosts | None:
    """The ``Host`` values answered (None: any), once the listening port is known."""
    own = frozenset(f"{name}:{port}" for name in LOOPBACK_NAMES)
    if settings.loopback_only:
        return AllowedHosts(exact=own, any_port=frozenset())
    if not settings.allowed_hosts:
        return None
    exact = own | {host for host in settings.allowed_hosts if _has_port(host)}
    names = {host for host in settings.allowed_hosts if not _has_port(host)}
    return AllowedHosts(exact=frozenset(exact), any_port=frozenset(names))


def _has_port(host: str) -> bool:
    name, _, port = host.rpartition(":")
    return bool(name) and port.isdigit() and (not name.startswith("[") or name.endswith("]"))


class ProtectMiddleware:
    """Refuses unknown ``Host`` values (400) and adds the security headers to every answer."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state  # app.state: ``allowed_hosts`` is set once the port is bound

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        allowed: AllowedHosts | None = getattr(self.state, "allowed_hosts", None)
        if allowed is not None:
            host = _header(scope, b"host")
            if not allowed.allows(host):
                await _refuse_host(host, send)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in _SECURITY_HEADER_NAMES
                ]
                message = {**message, "headers": [*headers, *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


async def _refuse_host(host: str, send: Send) -> None:
    body = (
        b'{"detail":"this server does not answer the host name '
        + host.encode("ascii", "replace").replace(b'"', b"'").replace(b"\\", b"/")[:200]
        + b'; an admin adds a public name with `tether server --allowed-host NAME`"}'
    )
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def private_directory(path: Path) -> None:
    """Create ``path`` (and its parents) if needed; ``path`` itself becomes mode 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


def private_files(paths: Iterable[Path]) -> None:
    """Each file (created empty if missing) becomes mode 0600 before anything writes to it.

    SQLite gives its -wal and -shm files the mode of the database file.
    """
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
