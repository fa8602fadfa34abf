"""A small HTTP client for the tether server: the key, timeouts, and errors that say what to do.

Errors from the server (JSON with a ``detail``) and from the network become exceptions::

    TetherError
    ├── ServerError                 the server answered with an error status
    │   ├── AuthError               401/403: the key is missing, unknown or not allowed
    │   ├── NotFoundError           404: no such project or run for this key's owner
    │   └── OffsetConflictError     409: an upload past what the server has; resume at .offset
    └── ServerUnreachableError      no answer: refused, timed out, name not resolved

``httpx`` is imported when a client is made, not when this module is, so that the code that
merely knows about uploads stays cheap to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from tether.errors import TetherError

if TYPE_CHECKING:
    import httpx

API_PREFIX: Final = "/api/v1"
CONNECT_TIMEOUT_S: Final = 5.0
READ_TIMEOUT_S: Final = 60.0
# Statuses worth trying again later: the request was fine, the server was not (yet), or
# another upload raced this one (a 409 without an offset).
RETRYABLE_STATUSES: Final = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


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


class NotFoundError(ServerError):
    """The project or run does not exist for this key's owner (404)."""


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


def quote_part(value: str) -> str:
    """One path segment of a URL, whatever characters it holds."""
    return quote(value, safe="")


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
    text = describe_detail(detail)
    where = f"{method} {url}"
    if status in (401, 403):
        return AuthError(
            f"{base_url} refused the API key ({status}: {text}); run `tether login` with a "
            "valid key, or set TETHER_API_KEY",
            status=status,
            detail=detail,
        )
    if status == 404:
        return NotFoundError(f"{where}: not found ({text})", status=status, detail=detail)
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
