"""Framework objects as plain values a run can store.

Frameworks hand their loggers whatever the user configured: optimizer classes, loss modules,
dtypes, enums, paths, numpy and torch scalars. A run's config takes plain values, so anything
else is kept as its ``str()`` rather than raised about: the user did nothing wrong by passing
a loss module to a Lightning model, and training must not stop over a config value.
Metrics are kept only where they are numbers (or numeric 0-d arrays and tensors).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from typing import Any

_SCALARS = (bool, int, float, str, type(None))
_MAX_DEPTH = 8


def plain_config(source: Mapping[Any, Any]) -> dict[str, Any]:
    """``source`` with every value a config can store (nested dicts and lists kept)."""
    return {str(key): _plain(value, 0) for key, value in source.items()}


def _plain(value: Any, depth: int) -> Any:
    if isinstance(value, _SCALARS):
        return value if not isinstance(value, int) or -(2**63) <= value < 2**64 else str(value)
    if depth >= _MAX_DEPTH:
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, enum.Enum):
        return _plain(value.value, depth + 1)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    number = scalar_number(value)
    if number is not None:
        return number
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return str(value)


def scalar_number(value: Any) -> float | int | bool | None:
    """``value`` as a Python number if it is one (a 0-d array or tensor included), else None."""
    if isinstance(value, bool | int | float):
        return value
    item, shape = getattr(value, "item", None), getattr(value, "shape", None)
    if not callable(item) or shape is None or isinstance(value, Mapping):
        return None
    try:
        if tuple(shape) not in ((), (1,)):
            return None
        number = item()
    except Exception:
        return None
    return number if isinstance(number, bool | int | float) else None


def numeric_metrics(values: Mapping[str, Any]) -> dict[str, float | int | bool]:
    """The entries of ``values`` that are numbers (strings, None and arrays are left out)."""
    out: dict[str, float | int | bool] = {}
    for key, value in values.items():
        number = scalar_number(value)
        if number is not None:
            out[str(key)] = number
    return out
