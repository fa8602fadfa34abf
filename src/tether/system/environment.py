"""The run's environment: what ran, where, with what; ``K_ENVIRONMENT`` records.

Captured once per run by the main writer. The sections that cost microseconds (``python``,
``platform``, ``cpu``, ``memory``, ``command``, ``launcher``) are written by ``init()``
itself; those that cost more (``gpu`` through NVML, ``torch``, ``packages`` from
``importlib.metadata``, ``git`` through subprocesses) by a daemon thread, in two later
records. Readers merge the sections of all records by key, later wins.

Never a secret: of the environment variables only ``redact.LAUNCHER_VARIABLES`` are read,
and URLs (in the command line, a launcher address, the git remote) lose their credentials.
torch is never imported here: its facts are read from the module when the user's code has
imported it, else from its installed metadata; CUDA is never initialised (that would break a
later fork), so ``cuda_available`` says whether torch was built with CUDA and NVML sees a GPU.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from tether._threads import start_without_signals
from tether.store import format as fmt
from tether.system.forks import no_fork
from tether.system.redact import launcher_section, redact_arg

Emit = Callable[[list[Any]], None]
_PEP503: Final = re.compile(r"[-_.]+")

# Packages found under one sys.path, kept for the process's later runs.
_packages_cache: tuple[tuple[str, ...], dict[str, str]] | None = None


def quick_sections(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The sections that cost microseconds to read; written by ``init()`` itself."""
    env = os.environ if environ is None else environ
    uname = os.uname()
    sections: dict[str, Any] = {
        "python": {
            "version": "{}.{}.{}".format(*sys.version_info[:3]),
            "executable": sys.executable,
            "implementation": sys.implementation.name,
        },
        "platform": {
            "system": uname.sysname,
            "release": uname.release,
            "machine": uname.machine,
            "hostname": uname.nodename,
        },
        "cpu": {"model": _cpu_model(), "count": os.cpu_count()},
        "memory": {"total_bytes": _memory_total()},
        "command": {
            "argv": [redact_arg(arg) for arg in sys.argv],
            "cwd": os.getcwd(),
            "executable": sys.executable,
        },
    }
    launcher = launcher_section(env)
    if launcher:
        sections["launcher"] = launcher
    return sections


def slow_sections() -> dict[str, Any]:
    """``gpu``, ``torch`` and ``packages``: read off the calling thread."""
    gpu = _gpu_section()
    sections: dict[str, Any] = {"gpu": gpu, "packages": packages()}
    torch = _torch_section(gpu_count=len(gpu.get("devices", [])))
    if torch is not None:
        sections["torch"] = torch
    return sections


def packages() -> dict[str, str]:
    """``{name: version}`` of every distribution installed on ``sys.path``.

    Names are normalised as pip compares them (PEP 503: ``typing-extensions``). Read from
    the ``<name>-<version>.dist-info`` folder names, which is what ``importlib.metadata``
    finds too, without parsing every METADATA file (that took 0.4 s for 200 packages).
    """
    global _packages_cache
    key = tuple(sys.path)
    cached = _packages_cache
    if cached is not None and cached[0] == key:
        return dict(cached[1])
    found: dict[str, str] = {}
    for entry in key:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue  # a zip, or a path that does not exist
        for name in names:
            if name.endswith((".dist-info", ".egg-info")):
                parsed = _distribution(os.path.join(entry or ".", name))
                if parsed is not None and parsed[0] not in found:
                    found[parsed[0]] = parsed[1]  # the first on sys.path is the one imported
    found = dict(sorted(found.items()))
    _packages_cache = (key, found)
    return dict(found)


def _distribution(path: str) -> tuple[str, str] | None:
    stem = os.path.basename(path).rsplit(".", 1)[0]
    name, _, rest = stem.partition("-")
    version = rest.split("-", 1)[0]  # egg-info: name-version-py3.11
    if not version:
        name, version = _metadata_name_version(path)
        if not name or not version:
            return None
    return _PEP503.sub("-", name).lower(), version


def _metadata_name_version(path: str) -> tuple[str, str]:
    # A folder without a version in its name (old egg-info): read the metadata's headers.
    name = version = ""
    for file in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(path, file), encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if not line.strip():
                        break
                    field, _, value = line.partition(":")
                    if field == "Name":
                        name = value.strip()
                    elif field == "Version":
                        version = value.strip()
        except OSError:
            continue
        break
    return name, version


class EnvironmentCapture:
    """Writes the run's environment: quick sections now, the rest from a daemon thread."""

    def __init__(self, emit: Emit, *, run_dir: Path, cwd: Path | None = None) -> None:
        self._emit = emit
        self._run_dir = run_dir
        self._cwd = cwd or Path.cwd()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()

    def start(self) -> None:
        """Write the quick sections, and start the thread that writes the others."""
        self._emit([fmt.K_ENVIRONMENT, time.time(), quick_sections()])
        thread = threading.Thread(target=self._run, name="tether-environment", daemon=True)
        self._thread = thread
        start_without_signals(thread)

    def wait(self, timeout: float) -> bool:
        """Wait for the later sections at most ``timeout`` seconds; True if all are written."""
        return self._done.wait(timeout)

    def _run(self) -> None:
        try:
            with no_fork():  # imports and NVML's start: see tether.system.forks
                self._write(slow_sections)
                from tether.system.git import git_section

            self._write(lambda: {"git": git_section(self._cwd, self._run_dir)})
        except BaseException:  # never into the user's process, even a thread that is killed
            pass
        finally:
            self._done.set()

    def _write(self, read: Callable[[], dict[str, Any]]) -> None:
        try:
            sections = {key: value for key, value in read().items() if value is not None}
        except Exception as exc:
            from tether._diagnostics import warn_failure

            warn_failure("environment", f"could not read the run's environment ({exc!r})")
            return
        if sections:
            self._emit([fmt.K_ENVIRONMENT, time.time(), sections])


def _gpu_section() -> dict[str, Any]:
    from tether.system.gpu import GpuReader

    reader = GpuReader(visible=os.environ.get("CUDA_VISIBLE_DEVICES"))
    try:
        if not reader.start():
            return {"devices": []}
        return reader.section()
    finally:
        reader.close()


def _torch_section(*, gpu_count: int) -> dict[str, Any] | None:
    torch: Any = sys.modules.get("torch")
    cuda_version: str | None
    if torch is not None and hasattr(torch, "version"):
        version = str(getattr(torch, "__version__", ""))
        cuda_version = getattr(torch.version, "cuda", None)
    else:
        import importlib.metadata

        try:
            version = importlib.metadata.version("torch")
        except importlib.metadata.PackageNotFoundError:
            return None
        cuda_version = _cuda_from_local_version(version)
    section: dict[str, Any] = {"version": version, "cuda_version": cuda_version}
    initialised = False
    if torch is not None:
        try:
            initialised = bool(torch.cuda.is_initialized())
        except Exception:
            initialised = False
    if initialised:
        section["cuda_available"] = True
    elif cuda_version is not None or "+cpu" in version:
        section["cuda_available"] = cuda_version is not None and gpu_count > 0
    return section


def _cuda_from_local_version(version: str) -> str | None:
    # PyTorch's own wheels say their build in the local version: 2.4.0+cu121, 2.4.0+cpu.
    local = version.partition("+")[2]
    if local.startswith("cu") and local[2:].isdigit() and len(local) >= 4:
        digits = local[2:]
        return f"{digits[:-1]}.{digits[-1]}"
    return None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "cpu model"):
                    return value.strip()
                if not line.strip():
                    break  # the first processor's block is enough
    except OSError:
        pass
    return None  # not platform.processor(): it may run `uname -p`, a process, in init()


def _memory_total() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None
