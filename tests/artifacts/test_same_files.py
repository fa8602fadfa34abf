"""Two runs log the same files under one name while the first run's version is pending (its
record sent, its blobs not): one version results, committed by whichever run's blobs complete
it, on SQLite and PostgreSQL (a real server; segments and blobs PUT as a client sends them)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import tether

from .server_helpers import file_entry, log_info, segment_of, write_artifact


def _logged(
    project: str, run_dir: Path, aliases: tuple[str, ...]
) -> tuple[tether.Run, dict[str, bytes]]:
    """An offline run that logged ``model`` = the same two files, and those files' blobs."""
    weights, weight_blobs = file_entry("weights.bin", b"identical weights" * 500)
    config, config_blobs = file_entry("config.json", b'{"layers": 3}')
    with tether.init(project=project, dir=run_dir, console="off", mode="offline") as run:
        write_artifact(run, log_info("model", [weights, config], aliases=aliases), {})
    return run, {**weight_blobs, **config_blobs}


def _put_record(http: httpx.Client, project: str, run: tether.Run) -> None:
    writer, body = segment_of(run.dir)
    answer = http.put(f"/projects/{project}/runs/{run.id}/segments/{writer}", content=body)
    assert answer.status_code == 200, answer.text


def _put_blobs(http: httpx.Client, project: str, run: tether.Run, blobs: dict[str, bytes]) -> None:
    for sha, data in blobs.items():
        answer = http.put(f"/projects/{project}/runs/{run.id}/blobs/{sha}", content=data)
        assert answer.status_code in (200, 201), answer.text


@pytest.mark.parametrize("second_sends", ["blobs_then_record", "record_then_blobs"])
def test_a_second_run_with_the_same_files_commits_the_pending_version(
    http: httpx.Client, run_dir: Path, second_sends: str
) -> None:
    """The first run's record arrives, its blobs never do (it crashed mid-upload); a second
    run logs the same files and sends everything. Before the fix the second record found the
    pending version and stopped there, and the second run's blobs completed only versions of
    that run: the version stayed pending forever."""
    project = f"same-{second_sends.replace('_', '-')}"
    first, blobs = _logged(project, run_dir / "first", ("best",))
    second, _ = _logged(project, run_dir / "second", ("prod",))
    _put_record(http, project, first)
    assert http.get(f"/projects/{project}/artifacts").json() == []  # pending: invisible
    if second_sends == "blobs_then_record":  # as the uploader does
        _put_blobs(http, project, second, blobs)
        _put_record(http, project, second)
    else:  # as an interrupted or direct-to-S3 upload does
        _put_record(http, project, second)
        _put_blobs(http, project, second, blobs)
    [version] = http.get(f"/projects/{project}/artifacts/model/versions").json()
    assert version["version"] == "v0"
    assert version["aliases"] == ["latest", "best", "prod"]  # both runs' aliases
    assert version["run"]["id"] == first.id  # the first to log it produced it
    # The first run resumes later: its blobs add nothing, its version stays v0.
    _put_blobs(http, project, first, blobs)
    _put_record(http, project, first)
    versions = http.get(f"/projects/{project}/artifacts/model/versions").json()
    assert [v["version"] for v in versions] == ["v0"]
    got = http.get(f"/projects/{project}/artifacts/model/latest/files/weights.bin")
    assert got.content == b"identical weights" * 500


def test_a_pending_version_whose_producer_was_deleted_is_adopted(
    http: httpx.Client, run_dir: Path
) -> None:
    """The first run is deleted while its version is pending: a second run logging the same
    files commits it and is named its producer (nothing else would ever commit it)."""
    project = "same-deleted"
    first, blobs = _logged(project, run_dir / "first", ("best",))
    second, _ = _logged(project, run_dir / "second", ())
    _put_record(http, project, first)
    deleted = http.post(
        f"/projects/{project}/runs/bulk", json={"action": "delete", "runs": [first.id]}
    )
    assert deleted.status_code == 200, deleted.text
    _put_record(http, project, second)
    _put_blobs(http, project, second, blobs)
    [version] = http.get(f"/projects/{project}/artifacts/model/versions").json()
    assert version["version"] == "v0" and version["run"]["id"] == second.id
