"""The host's side of a sample: CPU, memory, swap, disk and network, and the run's disk.

Rates (CPU %, bytes per second) are changes between two samples, so the first sample has
none. CPU % is over all cores (100 = every core busy), from the kernel's own counters rather
than ``psutil.cpu_percent()``, whose module-wide state the user's code may share.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil


class HostStats:
    """``host.*`` metrics; ``disk_path`` is a path on the filesystem to report on."""

    def __init__(self, disk_path: Path) -> None:
        self._disk_path = str(disk_path)
        self._cpu_count = psutil.cpu_count() or 0
        self._last: tuple[float, Any, Any, Any] | None = None

    def sample(self, now: float) -> dict[str, float]:
        metrics: dict[str, float] = {}
        if self._cpu_count:
            metrics["host.cpu_count"] = float(self._cpu_count)
        memory = psutil.virtual_memory()
        metrics["host.mem_used_bytes"] = float(memory.used)
        metrics["host.mem_available_bytes"] = float(memory.available)
        metrics["host.swap_used_bytes"] = float(psutil.swap_memory().used)
        try:
            usage = psutil.disk_usage(self._disk_path)
            metrics["host.disk_used_bytes"] = float(usage.used)
            metrics["host.disk_total_bytes"] = float(usage.total)
        except OSError:
            pass  # the run's folder went away: leave the disk out
        cpu = psutil.cpu_times()
        # nowrap=False: psutil's wrap-around bookkeeping holds a module-wide lock that a fork
        # child could inherit held; a counter that goes back is counted as no traffic here.
        disk = _optional(lambda: psutil.disk_io_counters(nowrap=False))
        net = _optional(lambda: psutil.net_io_counters(nowrap=False))
        last, self._last = self._last, (now, cpu, disk, net)
        if last is None or now <= last[0]:
            return metrics
        seconds = now - last[0]
        busy = _busy_fraction(last[1], cpu)
        if busy is not None:
            metrics["host.cpu_percent"] = 100.0 * busy
        if disk is not None and last[2] is not None:
            metrics["host.disk_read_bps"] = _rate(last[2].read_bytes, disk.read_bytes, seconds)
            metrics["host.disk_write_bps"] = _rate(last[2].write_bytes, disk.write_bytes, seconds)
        if net is not None and last[3] is not None:
            metrics["host.net_sent_bps"] = _rate(last[3].bytes_sent, net.bytes_sent, seconds)
            metrics["host.net_recv_bps"] = _rate(last[3].bytes_recv, net.bytes_recv, seconds)
        return metrics


def _busy_fraction(before: Any, after: Any) -> float | None:
    total = sum(after) - sum(before)
    if total <= 0:
        return None
    # Idle time, as psutil.cpu_percent() counts it: idle plus waiting for I/O.
    idle = (after.idle - before.idle) + (
        getattr(after, "iowait", 0.0) - getattr(before, "iowait", 0.0)
    )
    # guest time is already in user time on Linux: counting it again would pass 100 %.
    guest = sum(getattr(after, f, 0.0) - getattr(before, f, 0.0) for f in ("guest", "guest_nice"))
    return float(min(1.0, max(0.0, 1.0 - idle / max(total - guest, 1e-9))))


def _rate(before: int, after: int, seconds: float) -> float:
    # Counters restart (a device removed, a wrap): a negative change is no traffic.
    return max(0, after - before) / seconds


def _optional(read: Any) -> Any:
    try:
        return read()
    except (OSError, RuntimeError):  # no disks or no /proc/net/dev in this container
        return None
