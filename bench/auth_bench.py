"""What the key and role checks cost a request: the same run read in one's own namespace and in
a team's (as a viewer, through the membership check), and the key check alone (``/viewer``).

    python bench/auth_bench.py            # rewrites RESULTS.md's auth_bench section
    python bench/auth_bench.py --quick    # fewer requests, prints the section only

One ``tether server`` on SQLite on 127.0.0.1, one client, one request at a time; the three
kinds of request are interleaved so that the machine's load falls on all alike. The server is
started and stopped by pid in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

from _common import machine_lines, median, table, update_section

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

import tether  # noqa: E402
from tether.server.testing import LiveServer  # noqa: E402


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100 requests of each kind")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md with --quick")
    args = parser.parse_args()
    count = 100 if args.quick else 1000
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, LiveServer(Path(tmp) / "server") as server:
        api = httpx.Client(base_url=server.base_url + "/api/v1", timeout=30)
        admin = {"Authorization": f"Bearer {server.api_key}"}
        keys = {}
        for name in ("alice", "bob"):
            made = api.post("/users", json={"name": name}, headers=admin)
            keys[name] = {"Authorization": f"Bearer {made.json()['key']['key']}"}
        api.post("/teams", json={"name": "lab"}, headers=admin).raise_for_status()
        api.put("/teams/lab/members/bob", json={"role": "viewer"}, headers=admin)
        with tether.init(project="proj", dir=tmp, console="off", mode="offline") as run:
            run.log({"loss": 0.5})
        [segment] = list((run.dir / "segments").iterdir())
        writer = segment.stem.rsplit("-", 1)[1]
        for prefix, key in (("", keys["alice"]), ("/owners/lab", admin)):
            url = f"{prefix}/projects/proj/runs/{run.id}/segments/{writer}"
            api.put(url, content=segment.read_bytes(), headers=key).raise_for_status()
        kinds = {
            "own namespace: GET /projects/proj/runs/{id}": (
                f"/projects/proj/runs/{run.id}",
                keys["alice"],
            ),
            "team, as a viewer: GET /owners/lab/projects/proj/runs/{id}": (
                f"/owners/lab/projects/proj/runs/{run.id}",
                keys["bob"],
            ),
            "the key check only: GET /viewer": ("/viewer", keys["alice"]),
        }
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        for _ in range(count):
            for kind, (path, headers) in kinds.items():
                start = time.perf_counter()
                api.get(path, headers=headers).raise_for_status()
                times[kind].append((time.perf_counter() - start) * 1000)
        api.close()
    rows = [
        [kind, f"{median(values):.2f}", f"{_percentile(values, 0.9):.2f}", str(len(values))]
        for kind, values in times.items()
    ]
    argv = ["--quick"] if args.quick else []
    body = "\n".join(
        [
            "## Key and role checks per request (`auth_bench.py`)",
            "",
            machine_lines("auth_bench.py", argv, load_at_start),
            "",
            table(["request", "median ms", "p90 ms", "requests"], rows),
            "",
            "Every request looks its key up (revoked, expired, user disabled: no cache, so a "
            "revocation holds from the next request) and, for a run, resolves the namespace "
            "and the caller's role in it. The difference between the first two rows is the "
            "membership check.",
        ]
    )
    print(body)
    if args.write or not args.quick:
        update_section("auth_bench", body)


if __name__ == "__main__":
    main()
