"""The package's promises: a curated public API, and an import that starts nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import tether


def test_public_api_is_curated_and_sorted() -> None:
    public = {
        name
        for name in dir(tether)
        if not name.startswith("_") and not isinstance(getattr(tether, name), types.ModuleType)
    }
    assert public == set(tether.__all__) - {"__version__"}
    assert tether.__all__ == sorted(tether.__all__)
    assert tether.Api.__module__ == "tether.api"  # provided lazily


def test_import_starts_nothing_and_patches_nothing() -> None:
    code = """
import json, os, sys, threading
before_out, before_err = sys.stdout, sys.stderr
fds_before = set(os.listdir("/proc/self/fd"))
import tether
print(json.dumps({
    "threads": threading.active_count(),
    "modules": sorted(
        m for m in ("numpy", "torch", "click", "rich", "pandas", "httpx", "fastapi", "sqlalchemy")
        if m in sys.modules
    ),
    "stdout_same": sys.stdout is before_out and sys.stderr is before_err,
    "new_fds": len(set(os.listdir("/proc/self/fd")) - fds_before),
}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    facts = json.loads(out.stdout)
    assert facts == {"threads": 1, "modules": [], "stdout_same": True, "new_fds": 0}
