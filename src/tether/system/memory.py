"""Each process's share of memory (PSS), read within a CPU budget.

A process's PSS (proportional set size) counts a page shared by n processes as 1/n, so the
PSS of a fork tree adds up to every page once, where RSS would count the copy-on-write pages
of each DataLoader worker again. But the kernel finds PSS by visiting every resident page
(``/proc/<pid>/smaps_rollup``): 0.2 ms for a bare interpreter, 7 ms once torch is imported,
about 30 ns per resident page, so a fraction of a second for a process of 20 GB.

So PSS is read when a process is first seen, and read again only while the reads so far have
cost at most ``PSS_SHARE`` of one core over the tree's life (stalest process first). Between
two reads a process's memory is its last PSS plus the change of its RSS since then (from
``/proc/<pid>/statm``, which costs microseconds): what a process allocates shows at once as
its own, and sharing that changes (copy-on-write pages a worker writes to) is corrected at the
next read. Where PSS cannot be read (no ``smaps_rollup``, another user's process) RSS is used.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Final

import psutil

# The most of one core that reading PSS may take, averaged over the sampler's life.
PSS_SHARE: Final = 0.0003
_HAS_ROLLUP: Final = os.path.exists(f"/proc/{os.getpid()}/smaps_rollup")


@dataclass
class _Known:
    pss: int
    rss: int  # the process's RSS when ``pss`` was read
    read_at: float


class TreeMemory:
    """Memory of the processes of a tree, each counted by its share (see the module)."""

    def __init__(self) -> None:
        self._known: dict[tuple[int, float], _Known] = {}
        self._spent = 0.0  # CPU seconds spent reading PSS
        self._since = time.monotonic()

    def total(self, processes: list[psutil.Process]) -> int:
        """The summed memory of ``processes`` (live ones; others are skipped)."""
        now = time.monotonic()
        current: dict[tuple[int, float], tuple[psutil.Process, int]] = {}
        for process in processes:
            try:
                key = (process.pid, process.create_time())
                current[key] = (process, int(process.memory_info().rss))
            except psutil.Error:
                continue
        known = {key: self._known[key] for key in current if key in self._known}
        new = [key for key in current if key not in known]
        stale = sorted(known, key=lambda key: known[key].read_at)
        for key in new + stale:
            if key in known and self._spent > PSS_SHARE * (now - self._since):
                break  # over budget: the others keep their estimate until a later sample
            pss = self._read_pss(key[0])
            if pss is not None:
                known[key] = _Known(pss=pss, rss=current[key][1], read_at=now)
        self._known = known
        total = 0
        for key, (_, rss) in current.items():
            entry = known.get(key)
            total += rss if entry is None else max(0, entry.pss + rss - entry.rss)
        return total

    def _read_pss(self, pid: int) -> int | None:
        if not _HAS_ROLLUP:
            return None
        started = time.thread_time()
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
                data = handle.read()
        except OSError:  # ended, or another user's
            return None
        finally:
            self._spent += time.thread_time() - started
        at = data.find(b"\nPss:")
        if at < 0:
            return None
        try:
            return int(data[at + 5 : data.index(b"kB", at)]) * 1024
        except ValueError:
            return None
