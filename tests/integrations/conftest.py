"""Helpers for the integration tests: training scripts run under torchrun, with timeouts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import Finished, write_script


def run_torchrun(directory: Path, code: str, *, nproc: int = 2, timeout: float = 240) -> Finished:
    """Run ``code`` as a script under ``torchrun --standalone`` with ``nproc`` ranks (gloo, CPU)."""
    script = write_script(directory, code)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env.update(PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        str(script),
    ]
    proc = subprocess.run(
        command,
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"torchrun exited {proc.returncode}\n--- stdout\n{proc.stdout}\n"
            f"--- stderr\n{proc.stderr}"
        )
    return Finished(proc.returncode, proc.stdout, proc.stderr)
