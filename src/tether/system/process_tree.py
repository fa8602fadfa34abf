"""The training job's process tree, measured as one thing: CPU, memory, threads, processes.

The tree is the root process (the process that samples, or under torchrun the agent that
started the local ranks) and every live descendant: DataLoader workers, pool workers, spawned
ranks. Memory is the sum of each process's PSS, read within a CPU budget (``memory``): the
tree's pages counted once, including the copy-on-write pages a fork child shares with its
parent, which summed RSS would count once per worker.

CPU is the change of each process's user + system time between two samples over the wall
time between them (100 = one core busy); a process seen for the first time counts from its
own start when that falls between the samples. The first sample has no CPU figure.

Children are found through ``/proc/<pid>/task/<tid>/children`` (read only the tree's own
threads), falling back to psutil's scan of every process where the kernel lacks that file.
"""

from __future__ import annotations

import os
from typing import Any, Final

import psutil

from tether.system.memory import TreeMemory

_HAS_CHILDREN: Final = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
# A deep or cyclic tree (pid reuse) must not keep the sampler busy.
MAX_PROCESSES: Final = 4096


class ProcessTree:
    """Measure the tree under ``root_pid``; raises ``psutil.Error`` if the root is gone."""

    def __init__(self, root_pid: int) -> None:
        self.root_pid = root_pid
        self._root = psutil.Process(root_pid)
        # pid -> (Process, its cpu seconds at the last sample); Process remembers its own
        # start time, so a reused pid is a new entry.
        self._seen: dict[int, tuple[psutil.Process, float]] = {}
        self._last_wall: float | None = None
        self._memory = TreeMemory()
        self.pids: list[int] = []

    def sample(self, now: float) -> dict[str, float]:
        """``proc.*`` metrics at wall time ``now`` (seconds)."""
        last_wall = self._last_wall
        totals = [0.0, 0]  # cpu seconds since the last sample, threads
        seen: dict[int, tuple[psutil.Process, float]] = {}
        # The root's psutil errors are the tree's: it is gone (or its pid was reused).
        self._measure(self._root, totals, seen)
        if not self._root.is_running():
            raise psutil.NoSuchProcess(self.root_pid, msg="the process tree's root was replaced")
        for process in self._descendants():
            try:
                self._measure(process, totals, seen)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue  # ended while we looked: the next sample no longer has it
        cpu_delta, threads = totals
        rss = self._memory.total([process for process, _ in seen.values()])
        self._seen = seen
        self._last_wall = now
        self.pids = list(seen)
        metrics = {
            "proc.rss_bytes": float(rss),
            "proc.threads": float(threads),
            "proc.count": float(len(seen)),
        }
        if last_wall is not None and now > last_wall:
            metrics["proc.cpu_percent"] = 100.0 * cpu_delta / (now - last_wall)
        return metrics

    def _measure(
        self,
        process: psutil.Process,
        totals: list[Any],
        seen: dict[int, tuple[psutil.Process, float]],
    ) -> None:
        with process.oneshot():
            if process.status() == psutil.STATUS_ZOMBIE:
                # Exited, not yet reaped by its parent: it holds nothing any more.
                raise psutil.ZombieProcess(process.pid)
            times = process.cpu_times()
            threads = process.num_threads()
            cpu = times.user + times.system
            known = self._seen.get(process.pid)
            if known is not None and known[0] == process:
                totals[0] += max(0.0, cpu - known[1])
            elif self._last_wall is not None and process.create_time() >= self._last_wall:
                totals[0] += cpu  # born since the last sample: all of it is new
        totals[1] += threads
        seen[process.pid] = (process, cpu)

    def _descendants(self) -> list[psutil.Process]:
        if not _HAS_CHILDREN:
            return list(self._root.children(recursive=True))
        found: list[psutil.Process] = []
        queue = [self.root_pid]
        visited = {self.root_pid}
        while queue and len(visited) < MAX_PROCESSES:
            for child in _children(queue.pop()):
                if child in visited:
                    continue
                visited.add(child)
                queue.append(child)
                try:
                    # A new Process each time: it reads the start time, so a reused pid
                    # never inherits another process's CPU baseline.
                    found.append(psutil.Process(child))
                except psutil.Error:
                    continue
        return found


def _children(pid: int) -> list[int]:
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    children: list[int] = []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as handle:
                children.extend(int(part) for part in handle.read().split())
        except (OSError, ValueError):
            continue
    return children
