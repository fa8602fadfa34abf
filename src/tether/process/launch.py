"""Ranks started by a launcher (torchrun, ``RANK``/``WORLD_SIZE`` in the environment) join
one run: they derive the same run id, ranks other than 0 wait for rank 0's folder, and on a
node that does not see rank 0's folder one process uploads that node's segments.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tether import _env_vars
from tether.store import layout

# How long ranks 1..N of a torchrun launch wait for rank 0 to create the shared run.
RANK0_WAIT_S = 30.0
# A rank on another node than rank 0 sees rank 0's folder only on a shared file system.
OTHER_NODE_WAIT_S = 5.0
# In a run folder: the one process of a machine that uploads it, when rank 0 is elsewhere.
NODE_UPLOAD_CLAIM = "node-upload.pid"


def launcher_rank() -> tuple[int, int] | None:
    """``(rank, world_size)`` when a launcher such as torchrun started this process."""
    rank, world = os.environ.get("RANK"), os.environ.get("WORLD_SIZE")
    if rank is None or world is None or not rank.isdigit() or not world.isdigit():
        return None
    if "TORCHELASTIC_RUN_ID" not in os.environ and _env_vars.get(_env_vars.RUN_ID) is None:
        return None
    return int(rank), int(world)


def launcher_run_id() -> str:
    """A run id every rank of one launch derives alike, so they all join one run.

    torchrun gives all ranks the same rendezvous id and master address; with the default
    rendezvous id ("none") the launching agent's pid tells launches apart on one node.
    On several nodes, set ``TETHER_RUN_ID`` to a value the nodes share (a job id).
    """
    import hashlib

    explicit = _env_vars.get(_env_vars.RUN_ID)
    if explicit:
        return explicit
    parts = [
        os.environ.get("TORCHELASTIC_RUN_ID", ""),
        os.environ.get("MASTER_ADDR", ""),
        os.environ.get("MASTER_PORT", ""),
        os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"),
    ]
    if parts[0] in ("", "none"):
        parts.append(str(os.getppid()))
    return "dist-" + hashlib.sha1("|".join(parts).encode()).hexdigest()[:10]


def wait_for_rank0(runs_dir: Path, run_id: str) -> tuple[Path, bool]:
    """A rank other than 0 of a launch: join the run rank 0 creates (or create its folder).

    Returns the folder and whether rank 0's folder was found (same machine, or a shared file
    system). On a node other than rank 0's (torchrun's ``GROUP_RANK`` > 0) the folder only
    appears through a shared file system, so the wait is short.
    """
    other_node = os.environ.get("GROUP_RANK", "0") not in ("", "0")
    wait = _env_vars.seconds(
        _env_vars.RANK0_WAIT_S, OTHER_NODE_WAIT_S if other_node else RANK0_WAIT_S
    )
    deadline = time.monotonic() + wait
    while True:
        found = layout.find_run_by_id(runs_dir, run_id)
        if found is not None:
            return found, True
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    # Rank 0 is late, logs nowhere, or on another machine: make the folder; rank 0 joins it
    # if it comes here.
    run_dir = runs_dir / layout.run_dir_name(run_id, time.time())
    layout.make_run_dir(run_dir)
    return run_dir, False


def claim_node_upload(run_dir: Path) -> bool:
    """True for the one process of this machine that uploads ``run_dir`` (first come)."""
    try:
        fd = os.open(run_dir / NODE_UPLOAD_CLAIM, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError:  # taken already (FileExistsError), or the folder is not writable
        return False
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
    finally:
        os.close(fd)
    return True
