"""The package's promises: a curated public API, and an import that starts nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest

import tether
from tether.server.testing import LiveServer


def test_public_api_is_curated_and_sorted() -> None:
    public = {
        name
        for name in dir(tether)
        if not name.startswith("_") and not isinstance(getattr(tether, name), types.ModuleType)
    }
    assert public == set(tether.__all__) - {"__version__"}
    assert tether.__all__ == sorted(tether.__all__)
    assert tether.Api.__module__ == "tether.api"  # provided lazily


def test_every_error_is_drawn_in_the_tree_and_exported() -> None:
    from tether import errors

    tree = errors.__doc__ or ""
    for name in errors.__all__:
        assert getattr(tether, name) is getattr(errors, name), f"tether.{name} is not exported"
        assert f"── {name}" in tree or f"    {name}" in tree, (
            f"{name} is missing from the tree in errors.py's docstring"
        )
        assert issubclass(getattr(errors, name), tether.TetherError)


def test_the_server_errors_are_the_exported_ones(live_server: LiveServer) -> None:
    # What tether.Api raises is what users catch from tether itself.
    with (
        pytest.raises(tether.AuthError, match="tether login"),
        tether.Api(live_server.base_url, "tth_wrong_key_00000000") as wrong,
    ):
        wrong.projects()
    with tether.Api(live_server.base_url, live_server.api_key) as api:
        with pytest.raises(tether.NotOnServerError) as missing:
            api.client.get_json("/projects/nothing-here/runs/nope")
        assert missing.value.status == 404 and isinstance(missing.value, LookupError)


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
