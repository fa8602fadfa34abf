"""`tether sync`: offline, interrupted and crashed runs reach the server once, and only once."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import tether
from tether.api import Api
from tether.server.testing import LiveServer
from tether.store import format as fmt
from tether.sync import sync_paths
from tether.sync.progress import UPLOAD_FILE
from tether.sync.run_upload import unsent_bytes

from ..conftest import run_script
from .conftest import Cli, history_counts, make_run


def _sync(server: LiveServer, *paths: Path) -> tether.sync.SyncReport:
    return sync_paths(paths, base_url=server.base_url, api_key=server.api_key, progress=False)


def test_offline_run_synced_has_every_row_and_resync_adds_nothing(
    logged_in: Cli, api: Api, run_dir: Path
) -> None:
    run = make_run(run_dir, rows=1000)
    first = logged_in("sync", "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["ok"] and report["duplicates"] == 0
    [segment] = (run.dir / fmt.SEGMENTS_DIR).iterdir()
    assert report["records"] == sum(
        len(f.records) for f in fmt.scan_frames(segment.read_bytes()).frames
    )
    assert history_counts(api, "proj", run.id) == {
        ("loss", "main"): list(range(1000)),
        ("acc", "main"): list(range(1000)),
    }
    remote = api.run(f"proj/{run.id}")
    assert remote.state == "finished" and remote.config == {"lr": 0.1}
    assert [line.text for line in remote.console_lines()] == ["first line", "last line"]

    again = json.loads(logged_in("sync", "--json").stdout)
    assert again["ok"] and again["bytes"] == 0 and again["records"] == 0

    # Without upload.json the server's own offsets stop any resend.
    (run.dir / UPLOAD_FILE).unlink()
    third = json.loads(logged_in("sync", "--json", str(run.dir)).stdout)
    assert third["bytes"] == 0 and third["records"] == 0
    assert history_counts(api, "proj", run.id)[("loss", "main")] == list(range(1000))


def test_sync_table_and_summary(logged_in: Cli, run_dir: Path) -> None:
    run = make_run(run_dir, rows=10)
    out = logged_in("sync")
    assert out.returncode == 0, out.stderr
    assert run.id in out.stdout and "sent" in out.stdout and "1 run(s)" in out.stdout
    assert "up to date" in logged_in("sync").stdout


def test_sync_resumes_where_an_upload_stopped(
    live_server: LiveServer, api: Api, run_dir: Path, tmp_path: Path
) -> None:
    with tether.init(project="proj", dir=run_dir, console="off", mode="offline") as run:
        for i in range(3000):
            run.log({"loss": 1.0 / (i + 1)})
            if i % 1000 == 999:
                run.flush()  # one frame a thousand rows
    [segment] = sorted((run.dir / fmt.SEGMENTS_DIR).iterdir())
    whole = segment.read_bytes()
    frames = fmt.scan_frames(whole).frames
    assert len(frames) >= 3
    cut = len(fmt.MAGIC)
    for _ in range(2):
        length, _crc = fmt.FRAME_HEADER.unpack_from(whole, cut)
        cut += fmt.FRAME_HEADER.size + length
    # The run as it was when an upload stopped: only its first frames on disk.
    partial = tmp_path / "partial" / run.dir.name
    shutil.copytree(run.dir, partial)
    (partial / fmt.SEGMENTS_DIR / segment.name).write_bytes(whole[:cut])
    first = _sync(live_server, partial)
    assert first.ok and first.bytes == cut
    # Resume from the complete run: only the rest is sent, nothing twice.
    second = _sync(live_server, run.dir)
    assert second.ok and second.bytes == len(whole) - cut and second.duplicates == 0
    assert first.records + second.records == sum(len(f.records) for f in frames)
    assert history_counts(api, "proj", run.id)[("loss", "main")] == list(range(3000))


def test_stale_upload_file_is_corrected_by_the_server(
    live_server: LiveServer, api: Api, run_dir: Path
) -> None:
    run = make_run(run_dir, rows=200)
    [segment] = sorted((run.dir / fmt.SEGMENTS_DIR).iterdir())
    # upload.json claims everything was sent, but this server has never seen the run.
    size = segment.stat().st_size
    stale = {"base_url": live_server.base_url, "project": "proj", "offsets": {segment.name: size}}
    (run.dir / UPLOAD_FILE).write_text(json.dumps(stale))
    report = _sync(live_server, run_dir)
    assert report.ok and report.bytes == segment.stat().st_size
    assert history_counts(api, "proj", run.id)[("loss", "main")] == list(range(200))


def test_sync_killed_mid_upload_then_run_again(logged_in: Cli, api: Api, run_dir: Path) -> None:
    run_script(
        run_dir,
        """
        import tether
        with tether.init(project="big", console="off", mode="offline") as run:
            for i in range(100_000):
                run.log({f"k{j}": i + j / 10 for j in range(10)})
        """,
        timeout=120,
    )
    [run_path] = (run_dir / "tether").iterdir()
    progress = run_path / UPLOAD_FILE
    sync = subprocess.Popen(
        [sys.executable, "-m", "tether.cli", "sync", "-q"],
        cwd=run_dir,
        env=logged_in.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not progress.exists() and time.monotonic() < deadline and sync.poll() is None:
            time.sleep(0.005)
        sync.send_signal(signal.SIGKILL)
    finally:
        sync.wait(timeout=30)
    size = sum(p.stat().st_size for p in (run_path / fmt.SEGMENTS_DIR).iterdir())
    sent_before = sum(json.loads(progress.read_text())["offsets"].values())
    assert 0 < sent_before < size, "the sync was not interrupted part-way"

    again = json.loads(logged_in("sync", "--json").stdout)
    assert again["ok"] and again["duplicates"] == 0
    assert again["bytes"] <= size - sent_before  # never more than what was missing
    run_id = run_path.name.rsplit("-", 1)[1]
    counts = history_counts(api, "big", run_id)
    assert counts[("k0", "main")] == list(range(100_000))
    assert counts[("k9", "main")] == list(range(100_000))


def test_two_syncs_at_once_store_everything_once(logged_in: Cli, api: Api, run_dir: Path) -> None:
    runs = [make_run(run_dir, rows=2000) for _ in range(3)]
    syncs = [
        subprocess.Popen(
            [sys.executable, "-m", "tether.cli", "sync", "--json"],
            cwd=run_dir,
            env=logged_in.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=120) for proc in syncs]
    assert [proc.returncode for proc in syncs] == [0, 0], outputs
    reports = [json.loads(stdout) for stdout, _ in outputs]
    for run in runs:
        counts = history_counts(api, "proj", run.id)
        assert counts[("loss", "main")] == list(range(2000))
    on_disk = sum(
        len(frame.records)
        for run in runs
        for segment in (run.dir / fmt.SEGMENTS_DIR).iterdir()
        for frame in fmt.scan_frames(segment.read_bytes()).frames
    )
    assert sum(r["records"] for r in reports) == on_disk  # each record stored by one sync


def test_crashed_run_is_marked_crashed(live_server: LiveServer, api: Api, run_dir: Path) -> None:
    done = run_script(
        run_dir,
        """
        import os, signal, tether
        run = tether.init(project="proj", name="doomed", mode="offline")
        for i in range(50):
            run.log({"loss": 1.0 / (i + 1)})
        tether.flush()
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        check=False,
        timeout=60,
    )
    assert done.returncode == -signal.SIGKILL
    [run_path] = (run_dir / "tether").iterdir()
    [segment] = (run_path / fmt.SEGMENTS_DIR).iterdir()
    with open(segment, "ab") as handle:  # as if killed in the middle of a write
        handle.write(fmt.encode_frame(99, [[fmt.K_CONSOLE, 0.0, 1, "never"]])[:-5])
    assert tether.load_run(run_path).state == "crashed"
    report = _sync(live_server, run_dir)
    assert report.ok and report.runs[0].state == "crashed"
    assert unsent_bytes(run_path, base_url=live_server.base_url) == 0
    remote = api.run(f"proj/{run_path.name.rsplit('-', 1)[1]}")
    assert remote.state == "crashed" and remote.name == "doomed"
    assert len(remote.history()) == 50
    assert _sync(live_server, run_dir).records == 0
    assert remote.refresh().state == "crashed"


def test_unreachable_server_fails_with_how_to_retry(cli: Cli, run_dir: Path) -> None:
    runs = [make_run(run_dir, rows=5) for _ in range(3)]
    cli.extra_env.update(TETHER_API_KEY="tth_whatever_000000", TETHER_BASE_URL="127.0.0.1:9")
    started = time.monotonic()
    out = cli("sync", timeout=120)
    assert time.monotonic() - started < 20  # retried for the first run only
    assert out.returncode == 1, out.stdout
    assert out.stdout.count("cannot reach http://127.0.0.1:9") == 3
    assert "Run `tether sync` again to retry" in out.stderr
    assert not any((run.dir / UPLOAD_FILE).exists() for run in runs)


def test_sync_of_a_path_with_no_runs(logged_in: Cli, tmp_path: Path) -> None:
    out = logged_in("sync", str(tmp_path / "nothing-here"))
    assert out.returncode == 1 and "no such directory" in out.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "No runs under" in logged_in("sync", str(empty)).stdout
