"""The package's promises: a curated public API, and an import that starts nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest

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


def test_attaching_to_a_run_imports_little() -> None:
    # What every spawned child (DataLoader worker, rank) imports to unpickle a Run: each
    # module below costs milliseconds per child, times the number of children.
    code = """
import sys
before = set(sys.modules)
import tether._client
heavy = ("dataclasses", "secrets", "logging", "json", "hmac", "random", "numpy", "torch")
print(",".join(sorted(m for m in heavy if m in sys.modules and m not in before)))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_random_tokens_cover_their_range() -> None:
    from tether import _tokens

    draws = [_tokens.below(3) for _ in range(600)]
    assert set(draws) == {0, 1, 2} and min(draws.count(v) for v in range(3)) > 100
    assert _tokens.choice("ab") in "ab" and len(_tokens.token_hex(6)) == 12
    with pytest.raises(ValueError):
        _tokens.below(0)
