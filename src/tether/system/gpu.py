"""GPU metrics and facts, read through NVML's narrow interface (``tether.system.nvml``).

Devices are numbered as the job sees them: with ``CUDA_VISIBLE_DEVICES=2,0`` the job's
``gpu.0`` is NVML's device 2 and ``gpu.1`` NVML's device 0. Entries may be NVML indices or
UUIDs (``GPU-8f3c…``, any unique prefix); as CUDA does, the list ends at the first entry that
names no device. MIG instances (``MIG-…``) are not resolved: they end the list. Unset, every
device is visible in NVML's order; empty, or ``-1``, none is.

A call a device does not support (power on some boards, processes inside some containers)
leaves its metric out; a reader whose NVML cannot start reads nothing and says nothing.
``proc_mem_bytes`` matches NVML's process ids against the tree's: in a container with its own
pid namespace NVML reports the host's ids, which match none, and the figure reads 0.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final

from tether.system.nvml import NvmlCallError, NvmlSource, PynvmlSource


class GpuReader:
    """Per-device samples (``gpu.{i}.…``) and the environment's ``gpu`` section."""

    def __init__(self, source: NvmlSource | None = None, *, visible: str | None = None) -> None:
        self._source = source if source is not None else PynvmlSource()
        self._visible = visible
        self._devices: list[int] | None = None  # NVML index of the job's device i
        self.start_error: str | None = None

    def start(self) -> bool:
        """Open NVML and map the job's devices; False (and nothing more) where it can't."""
        if self._devices is not None:
            return True
        try:
            self._source.start()
            count = int(self._source.query("nvmlDeviceGetCount"))
            self._devices = visible_devices(self._visible, count, self._uuids(count))
        except NvmlCallError as exc:
            self.start_error = exc.code
            self._devices = []
            return False
        return True

    @property
    def devices(self) -> list[int]:
        """NVML indices of the job's devices 0, 1, … (empty before ``start()``)."""
        return list(self._devices or [])

    def sample(self, tree_pids: Collection[int] = ()) -> dict[str, float]:
        """One sample of every visible device; ``tree_pids`` are the job's processes.

        Raises ``NvmlCallError`` only for failures a device should not have (the GPU is
        lost, NVML stopped answering); unsupported metrics are just left out.
        """
        metrics: dict[str, float] = {}
        for job_index, nvml_index in enumerate(self._devices or []):
            prefix = f"gpu.{job_index}."
            metrics.update(
                (prefix + name, value) for name, value in self._device(nvml_index, tree_pids)
            )
        return metrics

    def section(self) -> dict[str, Any]:
        """The environment's ``gpu`` section: devices, driver and CUDA versions."""
        devices = []
        for job_index, nvml_index in enumerate(self._devices or []):
            device: dict[str, Any] = {"index": job_index}
            name = self._optional("nvmlDeviceGetName", nvml_index)
            if name is not None:
                device["name"] = str(name)
            memory = self._optional("nvmlDeviceGetMemoryInfo", nvml_index)
            if isinstance(memory, Mapping) and "total" in memory:
                device["memory_total_bytes"] = int(memory["total"])
            devices.append(device)
        section: dict[str, Any] = {"devices": devices}
        driver = self._optional("nvmlSystemGetDriverVersion", None)
        if driver is not None:
            section["driver_version"] = str(driver)
        cuda = self._optional("nvmlSystemGetCudaDriverVersion", None)
        if isinstance(cuda, int) and cuda > 0:
            section["cuda_version"] = f"{cuda // 1000}.{cuda % 1000 // 10}"
        return section

    def close(self) -> None:
        self._source.close()

    def _device(self, index: int, tree_pids: Collection[int]) -> list[tuple[str, float]]:
        found: list[tuple[str, float]] = []
        use = self._optional("nvmlDeviceGetUtilizationRates", index)
        if isinstance(use, Mapping) and "gpu" in use:
            found.append(("util_percent", float(use["gpu"])))
        memory = self._optional("nvmlDeviceGetMemoryInfo", index)
        if isinstance(memory, Mapping):
            if "used" in memory:
                found.append(("mem_used_bytes", float(memory["used"])))
            if "total" in memory:
                found.append(("mem_total_bytes", float(memory["total"])))
        for name, call, scale in (
            ("temp_c", "nvmlDeviceGetTemperature", 1.0),
            ("power_w", "nvmlDeviceGetPowerUsage", 1e-3),
            ("power_limit_w", "nvmlDeviceGetEnforcedPowerLimit", 1e-3),
            ("sm_clock_mhz", "nvmlDeviceGetClockInfo", 1.0),
        ):
            value = self._optional(call, index)
            if isinstance(value, int | float):
                found.append((name, float(value) * scale))
        used = self._tree_memory(index, tree_pids)
        if used is not None:
            found.append(("proc_mem_bytes", float(used)))
        return found

    def _tree_memory(self, index: int, tree_pids: Collection[int]) -> int | None:
        # Compute and graphics lists overlap for a process that does both: count a pid once.
        by_pid: dict[int, int] = {}
        answered = False
        for call in _PROCESS_CALLS:
            processes = self._optional(call, index)
            if not isinstance(processes, list):
                continue
            answered = True
            for process in processes:
                pid, used = process.get("pid"), process.get("usedGpuMemory")
                if pid in tree_pids and isinstance(used, int):
                    by_pid[pid] = max(by_pid.get(pid, 0), used)
        return sum(by_pid.values()) if answered else None

    def _optional(self, call: str, index: int | None) -> Any:
        try:
            return self._source.query(call, index)
        except NvmlCallError as exc:
            if exc.code in _MISSING:
                return None
            raise

    def _uuids(self, count: int) -> list[str]:
        if not _needs_uuids(self._visible):
            return []
        return [str(self._optional("nvmlDeviceGetUUID", i) or "") for i in range(count)]


_PROCESS_CALLS: Final = (
    "nvmlDeviceGetComputeRunningProcesses",
    "nvmlDeviceGetGraphicsRunningProcesses",
)
# What a device may simply not have or not tell us: leave that metric out.
_MISSING: Final = frozenset(
    {
        "NVML_ERROR_NOT_SUPPORTED",
        "NVML_ERROR_NO_PERMISSION",
        "NVML_ERROR_NOT_FOUND",
        "NVML_ERROR_FUNCTION_NOT_FOUND",
        "NVML_ERROR_NO_DATA",
    }
)


def visible_devices(visible: str | None, count: int, uuids: list[str]) -> list[int]:
    """NVML indices of the job's devices, in the job's order (``CUDA_VISIBLE_DEVICES``)."""
    if visible is None:
        return list(range(count))
    result: list[int] = []
    for entry in (part.strip() for part in visible.split(",")):
        index = _resolve(entry, count, uuids)
        if index is None or index in result:
            break  # CUDA ignores the list from the first entry it cannot use
        result.append(index)
    return result


def _resolve(entry: str, count: int, uuids: list[str]) -> int | None:
    if entry.isdigit():
        index = int(entry)
        return index if index < count else None
    if entry.startswith("GPU-"):
        matches = [i for i, uuid in enumerate(uuids) if uuid.startswith(entry)]
        return matches[0] if len(matches) == 1 else None
    return None


def _needs_uuids(visible: str | None) -> bool:
    return visible is not None and "GPU-" in visible
