"""What sending media to the server costs: a run's blobs through ``tether sync`` (blobs/s with
1 and 3 PUTs in flight, interleaved), one 64 MiB blob PUT and GET, and the server's memory
while it takes that blob (it streams: the body is never held).

    python bench/media_upload_bench.py            # rewrites RESULTS.md's media_upload_bench
    python bench/media_upload_bench.py --quick    # fewer blobs, prints the section only

One ``tether server`` on SQLite with its local blob store, on 127.0.0.1, started and stopped
by pid in a temporary directory. Each blob is a fresh random 20 KB file (the size of a small
PNG); a sync uploads a finished offline run whose segment names them all.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

from _common import machine_lines, median, table, update_section

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

import tether  # noqa: E402
import tether.sync.blobs as blob_upload  # noqa: E402
from tether.server.testing import LiveServer  # noqa: E402
from tether.store import format as fmt  # noqa: E402
from tether.sync.offline import sync_paths  # noqa: E402

MIB = 1024 * 1024


def _run_with_blobs(root: Path, count: int) -> Path:
    with tether.init(project="bench", dir=root, console="off", mode="offline") as run:
        (run.dir / "blobs").mkdir(exist_ok=True)
        for step in range(count):
            data = os.urandom(20_000)
            sha = hashlib.sha256(data).hexdigest()
            (run.dir / "blobs" / sha).write_bytes(data)
            info = {"key": "img", "step": step, "index": 0, "kind": "image", "sha256": sha,
                    "size": len(data), "media_type": "image/png", "meta": {}}  # fmt: skip
            run._writer.append([fmt.K_FILE, time.time(), info])
    return run.dir


def _peak_rss(pid: int, stop: threading.Event, peak: list[int]) -> None:
    process = psutil.Process(pid)
    while not stop.is_set():
        peak[0] = max(peak[0], process.memory_info().rss)
        stop.wait(0.005)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100 blobs a sync, 2 rounds")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md with --quick")
    args = parser.parse_args()
    count, rounds = (100, 2) if args.quick else (300, 5)
    load_at_start = os.getloadavg()[0]
    rates: dict[int, list[float]] = {1: [], 3: []}
    with tempfile.TemporaryDirectory() as tmp, LiveServer(Path(tmp) / "server") as server:
        for _ in range(rounds):
            for parallel, measured in rates.items():
                vars(blob_upload)["PARALLEL_PUTS"] = parallel  # read by each upload
                run_dir = _run_with_blobs(Path(tmp), count)
                start = time.perf_counter()
                report = sync_paths(
                    [run_dir], base_url=server.base_url, api_key=server.api_key, progress=False
                )
                elapsed = time.perf_counter() - start
                assert report.ok, report
                measured.append(count / elapsed)
        big = os.urandom(64 * MIB)
        sha = hashlib.sha256(big).hexdigest()
        url = f"{server.base_url}/api/v1/projects/bench/runs/big/blobs/{sha}"
        assert server.process is not None
        peak = [psutil.Process(server.process.pid).memory_info().rss]
        base = peak[0]
        stop = threading.Event()
        sampler = threading.Thread(target=_peak_rss, args=(server.process.pid, stop, peak))
        sampler.start()
        start = time.perf_counter()
        pieces = (big[i : i + MIB] for i in range(0, len(big), MIB))
        put = httpx.put(url, content=pieces, headers=server.headers, timeout=300)
        put_s = time.perf_counter() - start
        stop.set()
        sampler.join()
        put.raise_for_status()
        start = time.perf_counter()
        got = httpx.get(url, headers=server.headers, timeout=300)
        get_s = time.perf_counter() - start
        assert got.content == big
    rows = [
        [f"tether sync, {count} blobs of 20 KB, {n} PUT(s) in flight", f"{median(r):.0f} blobs/s",
         f"{median(r) * 20_000 / MIB:.1f} MiB/s"]
        for n, r in rates.items()
    ]  # fmt: skip
    rows.append(
        ["PUT one 64 MiB blob (streamed)", f"{put_s * 1000:.0f} ms", f"{64 / put_s:.0f} MiB/s"]
    )
    rows.append(["GET it back", f"{get_s * 1000:.0f} ms", f"{64 / get_s:.0f} MiB/s"])
    argv = ["--quick"] if args.quick else []
    body = "\n".join(
        [
            "## Media upload (`media_upload_bench.py`)",
            "",
            machine_lines("media_upload_bench.py", argv, load_at_start),
            "",
            table(["what", "median", "throughput"], rows),
            "",
            f"The server's RSS grew by {(peak[0] - base) / MIB:.1f} MiB while it took the 64 MiB "
            "blob: the body streams to a temporary file in the store, hashed as it comes, and "
            "is linked under its name once the hash checks out. A blob PUT costs a round trip "
            "and, on the server, a sync to disk and two short transactions; with the server on "
            "the same machine the PUTs in flight mostly share its CPU, across a network they "
            "hide the round trips.",
        ]
    )
    print(body)
    if args.write or not args.quick:
        update_section("media_upload_bench", body)


if __name__ == "__main__":
    main()
