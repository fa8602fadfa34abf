"""A run's file records as media: picked by key and step, ordered as the server orders them.

``RunData.media``/``media_keys`` (local) call these with each writer's ``(label, time,
info)``; the server's ``GET .../media`` and ``.../media/keys`` answer the same shapes, so a
local run and a remote one read alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tether.media.items import Fetch, MediaItem

Entry = tuple[str, float, dict[str, Any]]  # (writer label, record time, record info)


def select(entries: Iterable[Entry], key: str, step: int | None, fetch: Fetch) -> list[MediaItem]:
    """The items logged under ``key`` (at ``step``, when given), ordered by step, writer
    label and index. A record whose info lacks its fields is skipped."""
    found: list[MediaItem] = []
    for writer, when, info in entries:
        if info.get("key") != key or (step is not None and info.get("step") != step):
            continue
        try:
            found.append(MediaItem.from_dict({**info, "writer": writer, "time": when}, fetch=fetch))
        except (KeyError, TypeError, ValueError):
            continue  # a record of an unknown shape costs only itself
    found.sort(key=lambda item: (item.step, item.writer, item.index, item.time))
    return found


def keys(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    """``[{"key", "kind", "count", "min_step", "max_step"}]``, one per key, sorted by key."""
    seen: dict[str, dict[str, Any]] = {}
    for _, _, info in entries:
        key, step = info.get("key"), info.get("step")
        if not isinstance(key, str) or type(step) is not int:
            continue
        entry = seen.get(key)
        if entry is None:
            seen[key] = {
                "key": key,
                "kind": str(info.get("kind", "")),
                "count": 1,
                "min_step": step,
                "max_step": step,
            }
        else:
            entry["count"] += 1
            entry["min_step"] = min(entry["min_step"], step)
            entry["max_step"] = max(entry["max_step"], step)
    return [seen[key] for key in sorted(seen)]


def steps(entries: Iterable[Entry], key: str) -> list[int]:
    """The distinct steps that have media for ``key``, ascending (the UI's slider)."""
    return sorted(
        {
            info["step"]
            for _, _, info in entries
            if info.get("key") == key and type(info.get("step")) is int
        }
    )
