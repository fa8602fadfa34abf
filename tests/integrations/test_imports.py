"""Importing tether, or its integrations package, imports no framework."""

from __future__ import annotations

import subprocess
import sys

FRAMEWORKS = ("torch", "lightning", "pytorch_lightning", "fastai", "transformers", "keras")


def test_import_tether_and_its_integrations_package_imports_no_framework() -> None:
    code = (
        "import sys, tether, tether.integrations, tether.integrations._handle, "
        "tether.integrations._plain; "
        f"print(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
