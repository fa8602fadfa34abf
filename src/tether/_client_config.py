"""Where the client finds its server and key, and a directory's chosen mode.

Two small JSON files, read when asked (never at import):

* ``$XDG_CONFIG_HOME/tether/settings.json`` (default ``~/.config/tether``), written by
  ``tether login`` with mode 0600: ``{"base_url": ..., "api_key": ...}``. The environment
  variables ``TETHER_BASE_URL`` and ``TETHER_API_KEY`` override what it says.
* ``<dir>/tether/settings.json``, written by ``tether online|offline|disabled [DIR]``:
  ``{"mode": ...}`` for the runs started in ``<dir>``.

A file that cannot be read as such raises ``UsageError`` naming the file and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import msgspec

from tether import _env_vars
from tether.errors import UsageError

ENV_CONFIG_HOME: Final = "XDG_CONFIG_HOME"

DEFAULT_BASE_URL: Final = "http://127.0.0.1:8080"
SETTINGS_FILE: Final = "settings.json"
DIRECTORY_MODES: Final = ("online", "offline", "disabled")


class ClientConfig(msgspec.Struct, frozen=True):
    """The server to talk to and the key to talk with."""

    base_url: str
    api_key: str

    def __repr__(self) -> str:  # never print a whole key into a log
        return f"ClientConfig(base_url={self.base_url!r}, api_key='{mask_key(self.api_key)}')"


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/tether/settings.json``, ``~/.config/tether/settings.json`` by default."""
    env = os.environ if environ is None else environ
    home = env.get(ENV_CONFIG_HOME) or str(Path.home() / ".config")
    return Path(home).expanduser() / "tether" / SETTINGS_FILE


def load_client_config(environ: Mapping[str, str] | None = None) -> ClientConfig | None:
    """The configured server and key (environment over file); None when there is no key."""
    env = os.environ if environ is None else environ
    api_key = _env_vars.get(_env_vars.API_KEY, env)
    if not api_key:
        path = config_path(env)
        stored = _read_json(path, fix="run `tether login` again to rewrite it")
        api_key = _str_field(stored, "api_key", path)
    if not api_key:
        return None
    return ClientConfig(base_url=configured_base_url(env), api_key=api_key.strip())


def configured_base_url(environ: Mapping[str, str] | None = None) -> str:
    """The server's URL: ``TETHER_BASE_URL``, else the stored one, else ``DEFAULT_BASE_URL``."""
    env = os.environ if environ is None else environ
    from_env = _env_vars.get(_env_vars.BASE_URL, env)
    if from_env:
        return normalize_base_url(from_env)
    path = config_path(env)
    stored = _read_json(path, fix="run `tether login` again to rewrite it")
    return normalize_base_url(_str_field(stored, "base_url", path) or DEFAULT_BASE_URL)


def normalize_base_url(url: str) -> str:
    """``host:port`` or ``http://host:port/`` -> ``http://host:port``."""
    url = url.strip().rstrip("/")
    if not url:
        raise UsageError("the server URL is empty; pass one like http://127.0.0.1:8080")
    if "://" not in url:
        url = "http://" + url
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"server URL {url!r} must start with http:// or https://")
    return url


def save_login(base_url: str, api_key: str) -> Path:
    """Store the server and key for later runs (file mode 0600); returns the file written."""
    api_key = api_key.strip()
    if not api_key:
        raise UsageError("the API key is empty; copy it from your server's settings page")
    path = config_path()
    stored = _read_json(path, fix="delete it and run `tether login` again")
    stored.update(base_url=normalize_base_url(base_url), api_key=api_key)
    _write_json(path, stored, private=True)
    return path


def forget_login() -> bool:
    """Remove the stored key (the server URL stays); True if there was one."""
    path = config_path()
    stored = _read_json(path, fix="delete it")
    if "api_key" not in stored:
        return False
    del stored["api_key"]
    _write_json(path, stored, private=True)
    return True


def directory_mode(root: Path) -> str | None:
    """The mode ``tether online|offline|disabled`` chose for runs under ``root``, if any."""
    path = Path(root) / "tether" / SETTINGS_FILE
    fix = f"run `tether offline {root}` (or online/disabled) to rewrite it"
    stored = _read_json(path, fix=fix)
    mode = stored.get("mode")
    if mode is None:
        return None
    if mode not in DIRECTORY_MODES:
        raise UsageError(f"{path}: mode {mode!r} is not one of {', '.join(DIRECTORY_MODES)}; {fix}")
    return str(mode)


def set_directory_mode(root: Path, mode: str) -> Path:
    """Make runs started under ``root`` use ``mode``; returns the file written."""
    if mode not in DIRECTORY_MODES:
        raise UsageError(f"mode {mode!r} is not one of {', '.join(DIRECTORY_MODES)}")
    path = Path(root) / "tether" / SETTINGS_FILE
    stored = _read_json(path, fix="delete it and run this command again")
    stored["mode"] = mode
    _write_json(path, stored, private=False)
    return path


def mask_key(api_key: str) -> str:
    """Enough of a key to recognise it, not enough to use it."""
    return f"{api_key[:4]}…{api_key[-4:]}" if len(api_key) >= 16 else "…"


def _read_json(path: Path, *, fix: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(f"cannot read {path} ({exc.strerror or exc}); {fix}") from exc
    try:
        import json  # here: most processes never read a settings file

        data = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise UsageError(f"{path} is not valid JSON ({exc}); {fix}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path} should hold a JSON object, not {type(data).__name__}; {fix}")
    return data


def _str_field(stored: Mapping[str, Any], key: str, path: Path) -> str | None:
    value = stored.get(key)
    if value is None or isinstance(value, str):
        return value
    raise UsageError(
        f"{path}: {key!r} should be a string, not {value!r}; run `tether login` to rewrite it"
    )


def _write_json(path: Path, data: dict[str, Any], *, private: bool) -> None:
    """Replace ``path`` atomically; a private file is never readable by others, not even briefly."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700 if private else 0o777)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            import json

            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                os.fchmod(handle.fileno(), 0o600 if private else 0o644)  # a stale tmp's mode
                json.dump(data, handle, indent=2, sort_keys=True)
                handle.write("\n")
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UsageError(
            f"cannot write {path} ({exc.strerror or exc}); check that its folder is writable"
        ) from exc
