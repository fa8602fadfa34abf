"""The one narrow interface through which tether asks NVML anything, and its two sources.

``NvmlSource.query(name, index)`` calls the NVML function ``name`` (``nvmlDeviceGet…`` on the
device at NVML index ``index``, or ``nvmlSystemGet…`` when ``index`` is None) and returns plain
data: numbers, strings, and dicts or lists of dicts for NVML's structs. A call NVML refuses
raises ``NvmlCallError`` with NVML's error name (``NVML_ERROR_NOT_SUPPORTED`` …).

* ``PynvmlSource`` asks the real library (``nvidia-ml-py``, the ``tether[gpu]`` extra).
* ``RecordedNvml`` answers from a recorded query (``record_query()`` writes one from a real
  GPU machine), so the GPU reader can be tested where no GPU is.

Only the calls in ``DEVICE_CALLS`` and ``SYSTEM_CALLS`` are ever made.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, Final, Protocol

# nvmlDevice… calls made per device; those with an extra argument pass the constant given.
DEVICE_CALLS: Final = {
    "nvmlDeviceGetName": (),
    "nvmlDeviceGetUUID": (),
    "nvmlDeviceGetMemoryInfo": (),
    "nvmlDeviceGetUtilizationRates": (),
    "nvmlDeviceGetTemperature": (0,),  # NVML_TEMPERATURE_GPU
    "nvmlDeviceGetPowerUsage": (),  # milliwatts
    "nvmlDeviceGetEnforcedPowerLimit": (),  # milliwatts
    "nvmlDeviceGetClockInfo": (1,),  # NVML_CLOCK_SM, MHz
    "nvmlDeviceGetComputeRunningProcesses": (),
    "nvmlDeviceGetGraphicsRunningProcesses": (),
}
SYSTEM_CALLS: Final = (
    "nvmlDeviceGetCount",
    "nvmlSystemGetDriverVersion",
    "nvmlSystemGetCudaDriverVersion",  # e.g. 12040 for CUDA 12.4
)
# NVML cannot be used here at all: no library, no driver, no device. Nothing to say.
QUIET_ERRORS: Final = frozenset(
    {
        "NVML_ERROR_LIBRARY_NOT_FOUND",
        "NVML_ERROR_DRIVER_NOT_LOADED",
        "NVML_ERROR_NOT_FOUND",
        "NVML_ERROR_NO_PERMISSION",
        "NVML_ERROR_FUNCTION_NOT_FOUND",
    }
)


class NvmlCallError(Exception):
    """NVML refused a call; ``code`` is its error name, e.g. ``NVML_ERROR_NOT_SUPPORTED``."""

    def __init__(self, code: str, call: str = "") -> None:
        super().__init__(f"{call}: {code}" if call else code)
        self.code = code


class NvmlSource(Protocol):
    """Where NVML's answers come from (the real library, or a recorded query)."""

    def start(self) -> None:
        """Initialise NVML; raises ``NvmlCallError`` when it cannot be used here."""

    def query(self, name: str, index: int | None = None) -> Any:
        """The plain-data answer of NVML function ``name`` (see the module docstring)."""

    def close(self) -> None:
        """Release NVML (idempotent)."""


class PynvmlSource:
    """The real NVML, through ``pynvml`` from the ``nvidia-ml-py`` package."""

    def __init__(self) -> None:
        self._nvml: Any = None
        self._handles: dict[int, Any] = {}

    def start(self) -> None:
        try:
            # Untyped, and optional (the ``gpu`` extra): imported by name, used as Any.
            pynvml: Any = importlib.import_module("pynvml")
        except ImportError:  # no tether[gpu] extra: as if there were no library
            raise NvmlCallError("NVML_ERROR_LIBRARY_NOT_FOUND", "import pynvml") from None
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            raise NvmlCallError(_error_name(pynvml, exc), "nvmlInit") from None
        self._nvml = pynvml

    def query(self, name: str, index: int | None = None) -> Any:
        nvml = self._nvml
        if nvml is None:
            raise NvmlCallError("NVML_ERROR_UNINITIALIZED", name)
        try:
            if index is None:
                return _plain(getattr(nvml, name)())
            handle = self._handles.get(index)
            if handle is None:
                handle = self._handles[index] = nvml.nvmlDeviceGetHandleByIndex(index)
            return _plain(getattr(nvml, name)(handle, *DEVICE_CALLS.get(name, ())))
        except nvml.NVMLError as exc:
            raise NvmlCallError(_error_name(nvml, exc), name) from None

    def close(self) -> None:
        nvml, self._nvml = self._nvml, None
        self._handles.clear()
        if nvml is not None:
            try:
                nvml.nvmlShutdown()
            except Exception:
                pass


class RecordedNvml:
    """Answers NVML calls from a recorded query (a dict as ``record_query()`` writes it).

    The layout: ``{"system": {call: answer}, "devices": [{call: answer}, ...]}`` by NVML
    index; an answer ``{"error": "NVML_ERROR_…"}`` is raised as ``NvmlCallError``, and a
    top-level ``"init_error"`` makes ``start()`` fail as ``nvmlInit`` would.
    """

    def __init__(self, recorded: dict[str, Any]) -> None:
        self._recorded = recorded
        self.calls: list[tuple[str, int | None]] = []

    @classmethod
    def from_json(cls, path: str | Path) -> RecordedNvml:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def start(self) -> None:
        error = self._recorded.get("init_error")
        if error:
            raise NvmlCallError(str(error), "nvmlInit")

    def query(self, name: str, index: int | None = None) -> Any:
        self.calls.append((name, index))
        if index is None:
            table = self._recorded.get("system", {})
            if name == "nvmlDeviceGetCount" and name not in table:
                return len(self._recorded.get("devices", []))
        else:
            devices = self._recorded.get("devices", [])
            if not 0 <= index < len(devices):
                raise NvmlCallError("NVML_ERROR_INVALID_ARGUMENT", name)
            table = devices[index]
        if name not in table:
            raise NvmlCallError("NVML_ERROR_FUNCTION_NOT_FOUND", name)
        answer = table[name]
        if isinstance(answer, dict) and set(answer) == {"error"}:
            raise NvmlCallError(str(answer["error"]), name)
        return answer

    def close(self) -> None:
        pass


def record_query(source: NvmlSource | None = None) -> dict[str, Any]:
    """Ask NVML every call tether makes and return the answers in ``RecordedNvml``'s layout.

    Run it on a GPU machine (``python -m tether.system.nvml > nvml.json``) to make a fixture.
    """
    source = source or PynvmlSource()
    try:
        source.start()
    except NvmlCallError as exc:
        return {"init_error": exc.code}
    try:
        system: dict[str, Any] = {}
        for name in SYSTEM_CALLS:
            system[name] = _answer(source, name, None)
        count = system.get("nvmlDeviceGetCount")
        devices = [
            {name: _answer(source, name, index) for name in DEVICE_CALLS}
            for index in range(count if isinstance(count, int) else 0)
        ]
        return {"system": system, "devices": devices}
    finally:
        source.close()


def _answer(source: NvmlSource, name: str, index: int | None) -> Any:
    try:
        return source.query(name, index)
    except NvmlCallError as exc:
        return {"error": exc.code}


def _error_name(nvml: Any, exc: Exception) -> str:
    value = getattr(exc, "value", None)
    for attribute in dir(nvml):
        if attribute.startswith("NVML_ERROR_") and getattr(nvml, attribute) == value:
            return attribute
    return f"NVML_ERROR_{value}"


def _plain(value: Any) -> Any:
    """NVML's answer as plain data: ctypes structs become dicts, bytes become text."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    fields = getattr(value, "_fields_", None)
    if fields is not None:
        return {field[0]: _plain(getattr(value, field[0])) for field in fields}
    if hasattr(value, "__dict__") and not isinstance(value, int | float | str):
        # pynvml's friendly objects (running processes) keep their fields in __dict__.
        return {key: _plain(item) for key, item in vars(value).items()}
    return value


if __name__ == "__main__":  # pragma: no cover - run by hand on a GPU machine
    print(json.dumps(record_query(), indent=2))
