"""A project's numeric series of one metric, kept between requests while nothing changed.

Grouping reads every run's series of a metric (``runs/groups/history``): 10,000 runs are a
million points and most of the request's time. Regrouping by another key, or another
aggregate or band, reads the same series again. So the whole project's series of a key are
kept (``read_flat``), with a token of what they were read from: the count, highest id and sum
of run pks of the key's numeric chunks in the project. A new chunk, a run deleted or moved
changes the token, and the next request reads again: a cached answer is never stale. The
cache holds ``budget(engine, ...)`` bytes at most per database (``DEFAULT_BYTES`` unless the
server says otherwise: ``TETHER_SERVER_SERIES_CACHE_MB``), least recently used first out.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any, Final

from sqlalchemy import Connection, Engine, func, select

from tether.server.series import F8
from tether.server.series_batch import Flat, read_flat
from tether.server.storage.schema import metric_keys, runs, series_chunks

DEFAULT_BYTES: Final = 64 * 2**20

_Token = tuple[Any, ...]
_Entry = tuple[_Token, Flat, int]


class _Store:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.lock = threading.Lock()
        self.entries: OrderedDict[tuple[int, str, int], _Entry] = OrderedDict()
        self.bytes = 0

    def holds(self, ident: tuple[int, str, int]) -> bool:
        with self.lock:
            return ident in self.entries

    def get(self, ident: tuple[int, str, int], token: _Token) -> Flat | None:
        with self.lock:
            entry = self.entries.get(ident)
            if entry is None or entry[0] != token:
                return None
            self.entries.move_to_end(ident)
            return entry[1]

    def put(self, ident: tuple[int, str, int], token: _Token, flat: Flat) -> None:
        size = sum(a.nbytes for a in (flat.pks, flat.lengths, flat.steps, flat.values))
        if size > self.max_bytes:
            return
        with self.lock:
            old = self.entries.pop(ident, None)
            if old is not None:
                self.bytes -= old[2]
            self.entries[ident] = (token, flat, size)
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, (_, _, freed) = self.entries.popitem(last=False)
                self.bytes -= freed


_stores: weakref.WeakKeyDictionary[Engine, _Store] = weakref.WeakKeyDictionary()
_stores_lock = threading.Lock()


def budget(engine: Engine, max_bytes: int) -> None:
    """How many bytes of series the cache keeps for ``engine``'s database (0: none)."""
    with _stores_lock:
        _stores[engine] = _Store(max_bytes)


def _store(engine: Engine) -> _Store:
    with _stores_lock:
        return _stores.setdefault(engine, _Store(DEFAULT_BYTES))


def project_series(connection: Connection, project_pk: int, key: str, *, points: int) -> Flat:
    """``key``'s numeric series of every run of the project (``series_batch.read_flat``),
    from the cache when the project's chunks of that key are the same as when it was read."""
    store = _store(connection.engine)
    ident = (project_pk, key, points)
    token = _token(connection, project_pk, key)
    found = store.get(ident, token)
    if found is not None:
        return found
    project_runs = select(runs.c.id).where(runs.c.project_id == project_pk)
    flat = read_flat(connection, project_runs, key, points=points)
    store.put(ident, token, flat)
    return flat


def cached_series(connection: Connection, project_pk: int, key: str, *, points: int) -> Flat | None:
    """What ``project_series`` would answer if the cache holds it, still current; None
    otherwise. It never reads the series, and costs no query when nothing is kept."""
    store = _store(connection.engine)
    ident = (project_pk, key, points)
    if not store.holds(ident):
        return None
    return store.get(ident, _token(connection, project_pk, key))


def _token(connection: Connection, project_pk: int, key: str) -> _Token:
    chunk = series_chunks.c
    row = connection.execute(
        select(func.count(), func.max(chunk.id), func.sum(chunk.run_pk))
        .select_from(series_chunks.join(metric_keys, metric_keys.c.id == chunk.key_id))
        .where(
            chunk.run_pk.in_(select(runs.c.id).where(runs.c.project_id == project_pk)),
            metric_keys.c.key == key,
            chunk.kind == F8,
        )
    ).one()
    return tuple(row)
