"""``run.config`` and ``run.summary``: mappings whose every change becomes a record.

A change is validated first (the key and the value named in the error) and recorded second,
so a bad value raises at the call and leaves both the mapping and the store as they were.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

from tether._values import TextBudget, config_mapping, to_config_value
from tether.store import format as fmt

RecordFn = Callable[[list[Any]], None]


class RecordedMapping(MutableMapping[str, Any]):
    """A dict whose updates and deletions are appended to the run as ``kind`` records."""

    _where = "config"

    def __init__(self, kind: int, record: RecordFn, initial: Mapping[str, Any] | None = None):
        self._kind = kind
        self._record = record
        self._data: dict[str, Any] = dict(initial or {})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._record([self._kind, time.time(), {}, [key]])

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        # run.config.lr reads like wandb's config; missing keys are AttributeErrors.
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"{self._where} has no key {name!r}") from None

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Validate every value, then record them all as one change."""
        if len(args) > 1:
            raise TypeError(f"update expected at most 1 positional argument, got {len(args)}")
        changes: dict[str, Any] = {}
        text = TextBudget(self._where)  # one change record: its strings share one cap
        if args:
            changes.update(config_mapping(args[0], where=self._where, text=text))
        for key, value in kwargs.items():
            changes[key] = to_config_value(key, value, where=self._where, text=text)
        if not changes:
            return
        self._data.update(changes)
        self._record([self._kind, time.time(), changes, []])

    def as_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"


class Config(RecordedMapping):
    """The run's hyperparameters: ``run.config.update({...})`` or ``run.config["lr"] = 3e-4``."""

    _where = "config"

    def __init__(self, record: RecordFn, initial: Mapping[str, Any] | None = None):
        super().__init__(fmt.K_CONFIG, record, initial)


class Summary(RecordedMapping):
    """The last value of each logged key, unless the user set the key here (which wins).

    The logged values come from the writer (``logged``), which keeps the newest value of
    each key as it writes rows: ``log()`` itself does no summary work.
    """

    _where = "summary"

    def __init__(self, record: RecordFn, logged: Callable[[], dict[str, Any]]):
        super().__init__(fmt.K_SUMMARY, record)
        self._logged = logged

    def __getitem__(self, key: str) -> Any:
        if key in self._data:
            return self._data[key]
        return self._logged()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data or key in self._logged()

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())

    def __delitem__(self, key: str) -> None:
        if key in self._data:
            super().__delitem__(key)
        else:
            raise KeyError(key)

    def as_dict(self) -> dict[str, Any]:
        return {**self._logged(), **self._data}
