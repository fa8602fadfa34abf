"""A small HTTP client for the tether server: the key, timeouts, and errors that say what to do.

Errors from the server (JSON with a ``detail``) and from the network become the exceptions
of ``tether.errors`` (drawn there, exported from ``tether``): ``ServerError`` and its
``AuthError`` (401/403), ``NotOnServerError`` (404) and ``OffsetConflictError`` (409), and
``ServerUnreachableError`` when no answer comes.

``httpx`` is imported when a client is made, not when this module is, so that the code that
merely knows about uploads stays cheap to import.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from tether.errors import (
    RETRYABLE_STATUSES,
    AuthError,
    NotOnServerError,
    OffsetConflictError,
    ServerError,
    ServerUnreachableError,
)

if TYPE_CHECKING:
    import httpx

API_PREFIX: Final = "/api/v1"
CONNECT_TIMEOUT_S: Final = 5.0
READ_TIMEOUT_S: Final = 60.0
# The errors are tether.errors' own; the uploader, tether sync and tether.Api import them
# from here too.
__all__ = [
    "API_PREFIX",
    "CONNECT_TIMEOUT_S",
    "READ_TIMEOUT_S",
    "RETRYABLE_STATUSES",
    "AuthError",
    "HttpClient",
    "NotOnServerError",
    "OffsetConflictError",
    "ServerError",
    "ServerUnreachableError",
    "describe_detail",
    "project_path",
    "quote_part",
]


def quote_part(value: str) -> str:
    """One path segment of a URL, whatever characters it holds."""
    return quote(value, safe="")


def project_path(project: str) -> str:
    """A project's API path: ``mnist`` is in the key's default namespace, ``team/mnist`` in
    the namespace (user or team) ``team``."""
    owner, sep, name = project.rpartition("/")
    if not sep:
        return f"/projects/{quote_part(project)}"
    return f"/owners/{quote_part(owner)}/projects/{quote_part(name)}"


class HttpClient:
    """Requests to one server with one key; JSON errors raised as ``ServerError``."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = READ_TIMEOUT_S) -> None:
        import httpx

        from tether import __version__

        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {api_key}",
                "User-Agent": f"tether/{__version__}",
            },
            timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_S),
            follow_redirects=True,
        )

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``/api/v1{path}`` and return its JSON."""
        response = self._request("GET", path, params=params)
        return _json(response, self.base_url)

    def put_bytes(self, path: str, body: bytes, params: dict[str, Any] | None = None) -> Any:
        """PUT raw bytes to ``/api/v1{path}`` and return the JSON answer."""
        response = self._request(
            "PUT",
            path,
            params=params,
            content=body,
            headers={"Content-Type": "application/octet-stream"},
        )
        return _json(response, self.base_url)

    def get_bytes(self, path: str) -> bytes:
        """GET ``/api/v1{path}`` and return the body as it is (a blob)."""
        return self._request("GET", path).content

    def post_json(self, path: str, body: Any) -> Any:
        """POST ``body`` as JSON to ``/api/v1{path}`` and return the JSON answer."""
        response = self._request("POST", path, json=body)
        return _json(response, self.base_url)

    def put_json(self, path: str, body: Any) -> Any:
        """PUT ``body`` as JSON to ``/api/v1{path}`` and return the JSON answer."""
        response = self._request("PUT", path, json=body)
        return _json(response, self.base_url)

    def iter_bytes(self, path: str, *, piece: int = 1024 * 1024) -> Iterator[bytes]:
        """GET ``/api/v1{path}`` and yield its body ``piece`` bytes at a time, so a file of
        any size is read with bounded memory (an artifact's file)."""
        import httpx

        url = API_PREFIX + path
        try:
            with self._client.stream("GET", url) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error(response, "GET", url, self.base_url)
                yield from response.iter_bytes(piece)
        except httpx.TimeoutException as exc:
            raise ServerUnreachableError(
                f"{self.base_url} did not send GET {url} in time ({exc!r}); is the server "
                "overloaded or the network down?"
            ) from exc
        except httpx.TransportError as exc:
            raise ServerUnreachableError(f"lost {self.base_url} during GET {url} ({exc})") from exc

    def put_stream(
        self, path: str, chunks: Iterator[bytes], *, content_type: str, size: int
    ) -> Any:
        """PUT ``size`` bytes, read from ``chunks`` as they go, to ``/api/v1{path}``."""
        response = self._request(
            "PUT",
            path,
            content=chunks,
            headers={"Content-Type": content_type, "Content-Length": str(size)},
        )
        return _json(response, self.base_url)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx

        url = API_PREFIX + path
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise ServerUnreachableError(
                f"{self.base_url} did not answer {method} {url} in time ({exc!r}); "
                "is the server overloaded or the network down?"
            ) from exc
        except httpx.TransportError as exc:
            raise ServerUnreachableError(
                f"cannot reach {self.base_url} ({exc}); is the server running? "
                "Check the URL with `tether status` (or TETHER_BASE_URL)"
            ) from exc
        if response.status_code >= 400:
            raise _error(response, method, url, self.base_url)
        return response


def _json(response: httpx.Response, base_url: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise ServerError(
            f"{base_url} answered {response.request.url.path} with something that is not "
            "JSON; is that URL a tether server?",
            status=response.status_code,
        ) from exc


def _error(response: httpx.Response, method: str, url: str, base_url: str) -> ServerError:
    status = response.status_code
    detail: Any = None
    body: Any = None
    try:
        body = response.json()
        detail = body.get("detail") if isinstance(body, dict) else body
    except ValueError:
        detail = response.text[:200] or response.reason_phrase
    # A proxy in front of the server (a 503 while it restarts) says when to come back in the
    # header only: kept beside the server's own ``retry_after`` field, in seconds.
    asked = response.headers.get("retry-after", "").strip()
    if asked.isdigit() and not (isinstance(body, dict) and "retry_after" in body):
        body = {**(body if isinstance(body, dict) else {}), "retry_after": int(asked)}
    text = describe_detail(detail)
    where = f"{method} {url}"
    if status == 403:  # a key that works, with too low a role for this (a team's viewer)
        return AuthError(f"{base_url} refused {where} (403: {text})", status=status, detail=detail)
    if status == 401:
        return AuthError(
            f"{base_url} refused the API key ({status}: {text}); run `tether login` with a "
            "valid key, or set TETHER_API_KEY",
            status=status,
            detail=detail,
        )
    if status == 404:
        return NotOnServerError(f"{where}: not found ({text})", status=status, detail=detail)
    if status == 409 and isinstance(body, dict) and isinstance(body.get("offset"), int):
        return OffsetConflictError(
            f"{where}: {text}", status=status, detail=detail, offset=int(body["offset"]), body=body
        )
    return ServerError(
        f"{where} failed with {status}: {text}", status=status, detail=detail, body=body
    )


def describe_detail(detail: Any) -> str:
    """FastAPI's ``detail``: a string, or a list of ``{loc, msg}``; as one line of text."""
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", ()))
                parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)
