"""Server memory per upload: RSS of a real `tether server` while 16 MiB segment bodies of many
small rows are uploaded, one alone and then three at once (issue 11: a request may hold about
4x its body; three concurrent uploads stay under 400 MB).

    python bench/server_memory.py [--rows 760000]

Prints a Markdown table for bench/RESULTS.md. RSS is sampled every 5 ms with psutil.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

import tether
from tether.server.testing import LiveServer
from tether.store import format as fmt

MIB = 1024 * 1024


def body_of_small_rows(base: Path, rows: int, limit: int = 16 * MIB) -> bytes:
    with tether.init(project="p", dir=base, id="big", console="off", system=False) as run:
        for i in range(rows):
            run.log({"a": i, "b": 0.5})
    [segment] = list((run.dir / fmt.SEGMENTS_DIR).iterdir())
    data = segment.read_bytes()
    end = len(fmt.MAGIC)
    while (frame := fmt.frame_at(data, end)) is not None and frame[1] <= limit:
        end = frame[1]
    return data[:end]


def measure(server: LiveServer, body: bytes, uploads: int, tag: str) -> tuple[int, int, int]:
    """RSS before, peak during, and after ``uploads`` concurrent uploads of ``body``."""
    assert server.process is not None
    process = psutil.Process(server.process.pid)
    before = peak = process.memory_info().rss
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            done.wait(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()

    def upload(n: int) -> int:
        return httpx.put(
            f"{server.base_url}/api/v1/projects/mem/runs/{tag}{n}/segments/w",
            content=body,
            headers=server.headers,
            timeout=600,
        ).status_code

    with ThreadPoolExecutor(uploads) as pool:
        statuses = list(pool.map(upload, range(uploads)))
    done.set()
    sampler.join()
    assert statuses == [200] * uploads, statuses
    return before, peak, process.memory_info().rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=760_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        body = body_of_small_rows(Path(tmp) / "client", args.rows)
        with LiveServer(Path(tmp) / "srv") as server:
            httpx.put(
                f"{server.base_url}/api/v1/projects/mem/runs/warm/segments/w",
                content=fmt.MAGIC,
                headers=server.headers,
            ).raise_for_status()
            print(f"body: {len(body) / MIB:.1f} MiB of whole frames\n")
            print("| uploads at once | RSS before | peak | peak - before | per body | after |")
            print("|---|---|---|---|---|---|")
            for uploads, tag in ((1, "one"), (3, "three")):
                before, peak, after = measure(server, body, uploads, tag)
                grown = (peak - before) / MIB
                print(
                    f"| {uploads} | {before / MIB:.0f} MiB | {peak / MIB:.0f} MiB | "
                    f"{grown:.0f} MiB | {grown * MIB / (uploads * len(body)):.1f}x | "
                    f"{after / MIB:.0f} MiB |"
                )


if __name__ == "__main__":
    main()
