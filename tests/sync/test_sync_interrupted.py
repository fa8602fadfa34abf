"""An interrupted ``tether sync`` keeps what the server received, and the next one sends the rest.

Before, ``tether sync`` decoded each run's whole history (to learn its project and state)
before its first byte went out: 3.5 s for a 31 MB run, so a sync interrupted in its first
seconds had sent nothing, and the next one sent everything again (4 of 5 trials). Now the
first pieces go out while almost nothing of the run has been read; each is committed by the
server on its own, so a SIGKILL costs at most the piece in flight.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tether.api import Api
from tether.store import format as fmt
from tether.store import layout

from ..conftest import run_script
from .conftest import Cli, history_counts

ROWS = 500_000
BIG_RUN = f"""
import tether
with tether.init(project="big", console="off", mode="offline") as run:
    for i in range({ROWS}):
        run.log({{"a": i * 0.5, "b": i * 0.25, "c": float(i), "d": 1.0 / (i + 1), "e": i * 2.0}})
"""


def _server_offset(api: Api, run_id: str) -> int:
    try:
        answer = api.client.get_json(f"/projects/big/runs/{run_id}/segments")
    except Exception:  # 404 until the first piece is stored
        return 0
    return sum(int(w["offset"]) for w in answer.values())


def _bytes_read(pid: int) -> int:
    """Bytes the process has read so far (imports included), from /proc/<pid>/io."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/<pid>/io")


def test_a_sync_killed_mid_way_is_resumed_with_only_what_is_missing(
    logged_in: Cli, api: Api, run_dir: Path
) -> None:
    run_script(run_dir, BIG_RUN, timeout=300)
    [run_path] = (run_dir / "tether").iterdir()
    run_id = layout.run_id_of(run_path)
    size = sum(p.stat().st_size for p in (run_path / fmt.SEGMENTS_DIR).iterdir())
    assert size > 24 * 1024 * 1024  # several pieces
    sync = subprocess.Popen(
        [sys.executable, "-m", "tether.cli", "sync", "-q"],
        cwd=run_dir,
        env=logged_in.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        read_when_stored = -1
        while time.monotonic() < deadline and sync.poll() is None:
            if _server_offset(api, run_id) > 0:  # the first piece is stored
                read_when_stored = _bytes_read(sync.pid)
                break
            time.sleep(0.005)
        sync.send_signal(signal.SIGKILL)
    finally:
        sync.wait(timeout=30)
    assert sync.returncode == -signal.SIGKILL, "the sync ended before it was interrupted"
    # It began sending long before it could have read the run: the history is not decoded
    # first (imports and a few 4 MiB pieces are read by then, not the run's size).
    assert 0 < read_when_stored < size, (read_when_stored, size)
    # A piece in flight when the client died is committed, or not, in the next moments: give
    # it that moment before resuming, so that the sync does not send it again meanwhile.
    time.sleep(0.5)
    kept = _server_offset(api, run_id)
    assert 0 < kept < size

    again = logged_in("sync", "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    # Only what the server did not have: nothing twice, and no more than was missing when we
    # looked. A piece in flight when the client died may be committed after that look (under
    # load, seconds later), so the server may have had more by the time the sync asked.
    assert report["ok"] and report["duplicates"] == 0
    assert kept <= size - report["bytes"] < size
    counts = history_counts(api, "big", run_id)
    assert counts[("a", "main")] == list(range(ROWS)) == counts[("e", "main")]
    assert api.run(f"big/{run_id}").state == "finished"
