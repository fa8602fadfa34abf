"""The run's environment: what it records (git, packages, python, command, launcher), that it
never records a secret, and how ``tether show`` and ``RunData.environment`` give it back."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tether.system.git import FILE_DIFF_BYTES, RECORD_DIFF_BYTES
from tether.system.redact import host_of, launcher_section, strip_credentials

from .conftest import only_run, run_script

AWS_SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
TETHER_KEY = "tth_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
WANDB_KEY = "0123456789abcdef0123456789abcdef01234567"
GIT_TOKEN = "ghp_R3m0teT0kenInTheUrl0123456789abcd"
LAUNCHER_PASSWORD = "rdzvPassw0rd-7Q2x"
ARGV_PASSWORD = "argv-db-password-7781"
SECRETS = (AWS_SECRET, TETHER_KEY, WANDB_KEY, GIT_TOKEN, LAUNCHER_PASSWORD, ARGV_PASSWORD)


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip()


def _repo(path: Path, *, remote: str | None = None) -> Path:
    path.mkdir()
    _git(path, "init", "-q", "-b", "trunk")
    (path / "train.py").write_text("lr = 0.1\n")
    _git(path, "add", "train.py")
    _git(path, "commit", "-q", "-m", "first")
    if remote is not None:
        _git(path, "remote", "add", "origin", remote)
    return path


TRAIN = """
import sys, tether
run = tether.init(project="env", dir=sys.argv[1], mode="offline", console="off")
run.log({"loss": 0.5})
run.finish()
"""


def test_no_secret_reaches_the_run_directory(tmp_path: Path) -> None:
    remote = f"https://trainer:{GIT_TOKEN}@github.com/org/repo.git"
    repo = _repo(tmp_path / "repo", remote=remote)
    (repo / "train.py").write_text("lr = 0.2\n")  # dirty: the diff is stored too
    runs = tmp_path / "runs"
    run_script(
        repo,
        TRAIN,
        # A password inside a URL on the command line: the header's argv keeps only the host.
        args=[str(runs), f"--db=postgresql://trainer:{ARGV_PASSWORD}@db.internal/runs"],
        env={
            "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
            "TETHER_API_KEY": TETHER_KEY,
            "WANDB_API_KEY": WANDB_KEY,
            # An allow-listed variable holding a URL with a password (a rendezvous address):
            # only its host is kept.
            "MASTER_ADDR": f"tcp://admin:{LAUNCHER_PASSWORD}@node01.cluster:29500",
            "RANK": "0",
            "WORLD_SIZE": "1",
        },
    )
    run = only_run(runs)
    files = [path for path in run.dir.rglob("*") if path.is_file()]
    assert any(path.name == "git.diff" for path in files)
    for path in files:
        data = path.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in data, f"{secret!r} is in {path}"
    environment = run.environment
    assert environment["git"]["remote"] == "https://github.com/org/repo.git"
    assert environment["launcher"] == {"rank": 0, "world_size": 1, "master_host": "node01.cluster"}
    everything = json.dumps(environment)
    assert not any(secret in everything for secret in SECRETS)


def test_environment_has_git_packages_python_and_command(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo", remote="git@github.com:org/repo.git")
    (repo / "train.py").write_text("lr = 0.3\n")
    runs = tmp_path / "runs"
    done = run_script(
        repo,
        TRAIN + "import sys; print('torch imported:', 'torch' in sys.modules)\n",
        args=[str(runs)],
    )
    run = only_run(runs)
    env = run.environment
    git = env["git"]
    assert git["commit"] == _git(repo, "rev-parse", "HEAD")
    assert git["branch"] == "trunk" and git["root"] == str(repo.resolve())
    assert git["remote"] == "github.com:org/repo.git"
    assert git["dirty"] is True and git["diff_truncated"] is False
    assert "-lr = 0.1" in git["diff"] and "+lr = 0.3" in git["diff"]
    assert (run.dir / "git.diff").read_text() == git["diff"]
    assert env["packages"]["msgspec"] == importlib.metadata.version("msgspec")
    python = env["python"]
    assert python["version"] == "{}.{}.{}".format(*sys.version_info[:3])
    assert python["executable"] == sys.executable
    assert env["command"]["argv"][1:] == [str(runs)]
    assert env["command"]["cwd"] == str(repo)
    assert env["platform"]["hostname"] and env["cpu"]["count"] and env["memory"]["total_bytes"]
    assert "devices" in env["gpu"]
    if "torch" in env["packages"]:
        # Read from torch's metadata: the script never imported torch, and neither did we.
        assert "torch imported: False" in done.stdout
        assert env["torch"]["version"] == importlib.metadata.version("torch")


def test_a_clean_tree_and_a_folder_outside_git(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    run_script(repo, TRAIN, args=[str(tmp_path / "clean")])
    clean = only_run(tmp_path / "clean")
    assert clean.environment["git"]["dirty"] is False
    assert clean.environment["git"]["remote"] is None
    assert not (clean.dir / "git.diff").exists()
    outside = tmp_path / "outside"
    outside.mkdir()
    run_script(outside, TRAIN, args=[str(tmp_path / "plain")])
    plain = only_run(tmp_path / "plain").environment
    assert "git" not in plain and plain["python"] and plain["packages"]


def test_a_large_diff_is_cut_and_says_so(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    line = "x" * 99 + "\n"
    (repo / "data.txt").write_text(line)
    _git(repo, "add", "data.txt")
    _git(repo, "commit", "-q", "-m", "data")
    (repo / "data.txt").write_text(line * 30_000)  # a 3 MB uncommitted change
    run_script(repo, TRAIN, args=[str(tmp_path / "runs")])
    run = only_run(tmp_path / "runs")
    git = run.environment["git"]
    assert git["dirty"] is True and git["diff_truncated"] is True
    # The record stays far inside one upload request (a frame is split at 1 MiB).
    assert len(git["diff"].encode()) <= RECORD_DIFF_BYTES == 512 * 1024
    stored = (run.dir / "git.diff").read_bytes()
    assert FILE_DIFF_BYTES < len(stored) < FILE_DIFF_BYTES + 200
    assert stored.rstrip().endswith(b"it is longer")
    assert stored.startswith(git["diff"].encode())


def test_credentials_are_stripped_from_every_url_form() -> None:
    cases = {
        "https://user:tok@github.com/org/x.git": "https://github.com/org/x.git",
        "https://tok@github.com/org/x.git": "https://github.com/org/x.git",
        "https://github.com/org/x.git?access_token=tok#frag": "https://github.com/org/x.git",
        "ssh://git:tok@host.example:2222/org/x.git": "ssh://host.example:2222/org/x.git",
        "git@github.com:org/x.git": "github.com:org/x.git",
        "user:tok@host.example:org/x.git": "host.example:org/x.git",
        "postgresql://trainer:tok@db.internal:5432/runs": "postgresql://db.internal:5432/runs",
        "https://u:tok@[::1]:8080/x": "https://[::1]:8080/x",
        "/srv/git/x.git": "/srv/git/x.git",
    }
    for url, expected in cases.items():
        assert strip_credentials(url) == expected, url
    assert host_of("tcp://u:tok@node01:29500") == "node01"
    assert host_of("node01:29500") == "node01" and host_of("10.0.0.7") == "10.0.0.7"
    assert host_of("[fe80::1]:29500") == "fe80::1"


def test_only_allow_listed_variables_are_read() -> None:
    environ = {
        "RANK": "3",
        "LOCAL_RANK": "1",
        "WORLD_SIZE": "8",
        "MASTER_ADDR": "u:tok@node07",
        "SLURM_JOB_ID": "99123",
        "CUDA_VISIBLE_DEVICES": "1,0",
        "AWS_SECRET_ACCESS_KEY": "tok",
        "HF_TOKEN": "tok",
        "MASTER_PORT": "29500",
    }
    assert launcher_section(environ) == {
        "rank": 3,
        "local_rank": 1,
        "world_size": 8,
        "master_host": "node07",
        "slurm_job_id": "99123",
        "cuda_visible_devices": "1,0",
    }
    assert launcher_section({"HOME": "/root"}) == {}


def test_show_prints_the_environment_and_the_latest_sample(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    repo = _repo(tmp_path / "repo")
    run_script(
        repo,
        """
        import sys, time, tether
        run = tether.init(project="env", dir=sys.argv[1], system=0.05, console="off")
        time.sleep(0.3)
        run.finish()
        """,
        args=[str(tmp_path / "runs")],
    )
    run = only_run(tmp_path / "runs")

    def show(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "tether.cli", "show", str(run.dir), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    data = json.loads(show("--json"))
    assert data["environment"]["git"]["commit"] == _git(repo, "rev-parse", "HEAD")
    assert data["system"]["_writer"] == "main" and data["system"]["proc.count"] >= 1
    assert data["system"] == {
        **run.system().iloc[-1].dropna().to_dict(),
        "_time": data["system"]["_time"],
    }
    text = show()
    commit = data["environment"]["git"]["commit"]
    for expected in ("environment", "python", commit, "clean", "system (latest sample", "proc"):
        assert expected in text, expected
