"""Turn what users log into what the store keeps, or say precisely why not.

Metrics (``log``) are scalars: int, float (NaN and infinities kept), bool, str, None, numpy
scalars and 0-d arrays, 0-d torch tensors. Nested mappings flatten to ``"a/b"`` keys.
Config and summary values may also be lists and nested mappings (kept nested).

This sits on the hot path of ``log()``: the common case (a flat dict of str -> float) must
take a handful of type checks per item and nothing else.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from typing import Any, Final

Scalar = int | float | bool | str | None

RESERVED_KEYS: Final = frozenset({"_step", "_time", "_writer"})
_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**64 - 1
# The largest step the store, the server (a signed 64-bit column) and sync all keep.
MAX_STEP: Final = 2**63 - 1
# Strings are capped so that any one call's record fits far inside an upload request (4 MiB
# by default, 16 MiB on the server): a string over the cap would make the server refuse the
# whole piece that holds it, and the rows beside it with it. Long text belongs in a file.
MAX_TEXT_BYTES: Final = 512 * 1024
# The server keeps metric keys of up to 512 characters; 512 bytes of UTF-8 always fit.
MAX_KEY_BYTES: Final = 512
_PASS_THROUGH: Final = frozenset({float, bool, str, type(None)})
# Value types that need no conversion or range check: a row made only of these (the common
# case, a flat dict of floats) skips the per-item walk of ``flatten_metrics``. Its strings,
# if any, still go through ``check_row_text``.
FAST_VALUE_TYPES: Final = _PASS_THROUGH


def flatten_metrics(data: object, *, where: str = "log") -> dict[str, Scalar]:
    """Validate and flatten one ``log()`` payload into ``{"a/b": scalar}``."""
    _check_mapping(data, where)
    out: dict[str, Scalar] = {}
    _flatten_into(out, "", data, where, TextBudget(where))  # type: ignore[arg-type]
    return out


def flatten_log(data: object) -> tuple[dict[str, Scalar], dict[str, list[Any]]]:
    """``flatten_metrics`` for ``log()``, which also takes media (``tether.Image``...): the
    scalars, and ``{"a/b": [media, ...]}`` for the keys that hold media, alone or in a list
    or tuple of media (the list's order is kept as each object's index)."""
    _check_mapping(data, "log")
    out: dict[str, Scalar] = {}
    media: dict[str, list[Any]] = {}
    _flatten_into(out, "", data, "log", TextBudget("log"), media)  # type: ignore[arg-type]
    return out, media


def is_media(value: object) -> bool:
    """Is ``value`` a ``tether.media`` object? (Asked of the class, which ``Media`` marks:
    this layer does not import ``tether.media``, which sits above it.)"""
    return getattr(type(value), "_tether_media", False) is True


def _check_mapping(data: object, where: str) -> None:
    if type(data) is not dict and not isinstance(data, Mapping):
        raise TypeError(
            f"tether.{where}() takes a dict of metrics, got {type(data).__name__}; "
            f"write tether.{where}({{'loss': value}})"
        )


def check_row_keys(keys: tuple[object, ...], *, where: str = "log") -> None:
    """Raise as ``flatten_metrics`` would for a flat row's keys: strings, non-empty, unreserved."""
    for key in keys:
        _check_key(key, "", where)
        if key in RESERVED_KEYS:
            raise ValueError(_reserved_message(str(key), where))


def check_row_text(keys: tuple[str, ...], values: list[Any], *, where: str = "log") -> None:
    """Raise as ``flatten_metrics`` would for a flat row's strings: encodable, under the cap."""
    text = TextBudget(where)
    for key, value in zip(keys, values, strict=True):
        if type(value) is str:
            text.take(key, value)


def _check_key(key: object, prefix: str, where: str) -> None:
    if type(key) is not str:
        raise TypeError(
            f"tether.{where}(): key {key!r} (under {prefix or 'the top level'!r}) is a "
            f"{type(key).__name__}, but keys must be strings; use str({key!r}) as the key"
        )
    if not key:
        raise ValueError(f"tether.{where}(): an empty key under {prefix or 'the top level'!r}")
    _check_key_text(key, where)


def _check_key_text(key: str, where: str) -> None:
    if not key.isascii() or len(key) > MAX_KEY_BYTES:
        size = _utf8_size(key, f"the key {key[:80]!r}", where)
        if size > MAX_KEY_BYTES:
            raise ValueError(
                f"{_call(where)}: the key {key[:80]!r}... is {size} bytes long; keys are at "
                f"most {MAX_KEY_BYTES} bytes of UTF-8, so use a shorter name"
            )


class TextBudget:
    """The UTF-8 bytes of string values one call may still add (``MAX_TEXT_BYTES`` in all)."""

    __slots__ = ("left", "where")

    def __init__(self, where: str) -> None:
        self.left = MAX_TEXT_BYTES
        self.where = where

    def take(self, key: str, text: str) -> str:
        size = len(text) if text.isascii() else _utf8_size(text, f"key {key!r}", self.where)
        self.left -= size
        if self.left < 0:
            if size > MAX_TEXT_BYTES:
                what = f"its string is {size:,} bytes of UTF-8"
            else:
                what = f"the strings of this call reach {MAX_TEXT_BYTES - self.left:,} bytes"
            raise ValueError(
                f"{_call(self.where)}: key {key!r}: {what}, over the {MAX_TEXT_BYTES:,}-byte "
                "cap for text in one call; keep long text in a file (or log a shorter excerpt)"
            )
        return text


def _call(where: str) -> str:
    """How messages name the call: ``tether.log()``, ``tether.config``, ``tether.summary``."""
    return f"tether.{where}()" if where == "log" else f"tether.{where}"


def _utf8_size(text: str, what: str, where: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end]
        raise ValueError(
            f"{_call(where)}: {what} holds {bad!r} at index {exc.start}, a lone surrogate "
            "that UTF-8 cannot store (often a file name or bytes decoded with "
            "errors='surrogateescape'); clean it first, e.g. "
            "text.encode('utf-8', 'replace').decode('utf-8')"
        ) from None


def _reserved_message(key: str, where: str) -> str:
    return (
        f"tether.{where}(): key {key!r} is reserved for the row's own fields; "
        f"pass the step as log(..., step=N) or rename the key (e.g. {key[1:]!r})"
    )


def _flatten_into(
    out: dict[str, Scalar],
    prefix: str,
    data: Mapping[Any, Any],
    where: str,
    text: TextBudget,
    media: dict[str, list[Any]] | None = None,
) -> None:
    for key, value in data.items():
        _check_key(key, prefix, where)
        full = prefix + key
        kind = type(value)
        if kind is dict or (kind not in _PASS_THROUGH and isinstance(value, Mapping)):
            _flatten_into(out, full + "/", value, where, text, media)
            continue
        if full in out or (media and full in media):
            raise ValueError(_collision_message(full, where))
        if media is not None and kind not in _PASS_THROUGH and kind is not int:
            found = _media_of(full, value)
            if found is not None:
                media[full] = found
                continue
        if kind is str:
            out[full] = text.take(full, value)
        elif kind in _PASS_THROUGH:
            out[full] = value
        elif kind is int:
            out[full] = _checked_int(full, value, where)
        else:
            scalar = to_scalar(full, value, where=where)
            out[full] = text.take(full, scalar) if type(scalar) is str else scalar
    if not prefix:
        clash = RESERVED_KEYS.intersection(out).union(RESERVED_KEYS.intersection(media or ()))
        if clash:
            raise ValueError(_reserved_message(sorted(clash)[0], where))


def _media_of(key: str, value: object) -> list[Any] | None:
    """``value`` as a list of media objects, or None when it holds none (then it must be a
    scalar); a list mixing media with anything else is refused, naming the first stray."""
    if is_media(value):
        return [value]
    if type(value) is not list and type(value) is not tuple:
        return None
    items: list[Any] = list(value)
    flags = [is_media(item) for item in items]
    if not any(flags):
        return None
    stray = flags.index(False) if not all(flags) else -1
    if stray >= 0:
        raise TypeError(
            f"tether.log(): key {key!r} holds a list of media whose item {stray} is a "
            f"{type(items[stray]).__qualname__}; a list under one key holds only "
            "tether.Image, Histogram, Table or Text objects (log other values under keys "
            "of their own)"
        )
    return items


def _collision_message(key: str, where: str) -> str:
    head, _, tail = key.rpartition("/")
    return (
        f"tether.{where}(): key {key!r} is given twice, once flat and once nested "
        f"({{{key!r}: ...}} and {{{head!r}: {{{tail!r}: ...}}}}); keep one of the two"
    )


def _checked_int(key: str, value: int, where: str) -> int:
    if _INT_MIN <= value <= _INT_MAX:
        return value
    raise ValueError(
        f"tether.{where}(): the int for key {key!r} ({value}) does not fit in 64 bits; "
        f"log it as float({value}) or str({value})"
    )


def to_scalar(key: str, value: object, *, where: str = "log") -> Scalar:
    """Convert one non-builtin metric value (numpy, torch, bool subclasses...) or raise."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return _checked_int(key, int(value), where)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    module = type(value).__module__.split(".", 1)[0]
    if module in ("numpy", "torch", "jax", "jaxlib", "tensorflow"):
        return _array_scalar(key, value, where)
    raise TypeError(
        f"tether.{where}(): key {key!r} has a value of type {type(value).__qualname__}, which "
        "is not a metric tether can store; log an int, float, bool, str or None (for a "
        "sequence, log one key per element, for an object, log the fields you need)"
    )


def _array_scalar(key: str, value: Any, where: str) -> Scalar:
    shape = tuple(getattr(value, "shape", ()))
    if shape:
        raise ValueError(
            f"tether.{where}(): key {key!r} holds a {type(value).__qualname__} of shape "
            f"{shape}; metrics are scalars, so log value.mean().item() or one key per element"
        )
    item = getattr(value, "item", None)
    if item is None:
        raise TypeError(f"tether.{where}(): key {key!r}: cannot read a scalar from {value!r}")
    result = item()
    if isinstance(result, complex):
        raise TypeError(
            f"tether.{where}(): key {key!r} is complex ({result}); log its .real and .imag "
            "as two keys"
        )
    if isinstance(result, bool | float | str) or result is None:
        return result
    if isinstance(result, int):
        return _checked_int(key, result, where)
    raise TypeError(f"tether.{where}(): key {key!r}: {type(value).__qualname__} is not a scalar")


def to_config_value(
    key: str, value: object, *, where: str = "config", text: TextBudget | None = None
) -> Any:
    """Normalise a config or summary value: scalars, lists and string-keyed mappings.

    ``text`` is the string budget of the whole call (one change record), when it has several.
    """
    if text is None:
        text = TextBudget(where)
    kind = type(value)
    if kind is str:
        return text.take(key, value)  # type: ignore[arg-type]
    if kind in _PASS_THROUGH:
        return value
    if kind is int:
        return _checked_int(key, value, where)  # type: ignore[arg-type]
    if isinstance(value, Mapping):
        return {
            _config_key(f"{key}/{k}" if key else k, k, where): to_config_value(
                f"{key}/{k}", v, where=where, text=text
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [
            to_config_value(f"{key}[{i}]", v, where=where, text=text) for i, v in enumerate(value)
        ]
    if isinstance(value, enum.Enum):
        return to_config_value(key, value.value, where=where, text=text)
    if isinstance(value, os.PathLike):
        return to_config_value(key, os.fspath(value), where=where, text=text)
    if _is_dataclass_instance(value):
        return to_config_value(key, _dataclass_fields(value), where=where, text=text)
    try:
        scalar = to_scalar(key, value, where=where)
    except TypeError:
        raise TypeError(
            f"tether.{where}: key {key!r} has a value of type {type(value).__qualname__} that "
            "tether cannot store; use numbers, strings, bools, None, lists or dicts of them "
            f"(for example str(value))"
        ) from None
    return text.take(key, scalar) if type(scalar) is str else scalar


def _config_key(path: str, key: object, where: str) -> str:
    if type(key) is not str:
        raise TypeError(
            f"tether.{where}: key {key!r} at {path!r} is a {type(key).__name__}, but keys must "
            f"be strings; use str({key!r})"
        )
    _check_key_text(key, where)
    return key


def config_mapping(
    source: object, *, where: str = "config", text: TextBudget | None = None
) -> dict[str, Any]:
    """Accept a mapping, an ``argparse.Namespace`` or a dataclass as a config dict."""
    if text is None:
        text = TextBudget(where)
    if source is None:
        return {}
    if isinstance(source, Mapping):
        items = dict(source)
    elif _is_dataclass_instance(source):
        items = _dataclass_fields(source)
    elif hasattr(source, "__dict__") and type(source).__name__ == "Namespace":
        items = dict(vars(source))
    else:
        raise TypeError(
            f"tether.{where}: expected a dict, an argparse.Namespace or a dataclass, got "
            f"{type(source).__qualname__}"
        )
    return {
        _config_key(str(k), k, where): to_config_value(k, v, where=where, text=text)
        for k, v in items.items()
    }


def _is_dataclass_instance(value: object) -> bool:
    # What dataclasses.is_dataclass() looks at, without importing dataclasses (and inspect)
    # into every process that logs: only a dataclass instance can carry one.
    return hasattr(type(value), "__dataclass_fields__")


def _dataclass_fields(value: Any) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(value)
