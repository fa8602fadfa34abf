"""The Run API: steps, config, summary, states, modes, resume, threads."""

from __future__ import annotations

import argparse
import dataclasses
import threading
from pathlib import Path

import pytest

import tether
from tether.errors import UsageError


def test_auto_steps_and_out_of_order_steps_are_all_kept(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        run.log({"a": 0})
        run.log({"a": 1})
        run.log({"a": 10}, step=10)
        run.log({"a": 3}, step=3)  # out of order: kept, never dropped
        run.log({"a": 11})  # continues after the highest step seen
        assert run.step == 12
    steps = [r["_step"] for r in tether.load_run(run.id, dir=run_dir).rows()]
    assert steps == [0, 1, 10, 3, 11]


def test_config_changes_are_recorded(run_dir: Path) -> None:
    @dataclasses.dataclass
    class Opt:
        name: str = "adam"
        betas: tuple[float, float] = (0.9, 0.99)

    args = argparse.Namespace(lr=0.1, batch=32, data=Path("/data"))
    with tether.init(dir=run_dir, config=args, console="off") as run:
        run.config["lr"] = 3e-4
        run.config.update({"opt": Opt(), "layers": [64, 64]})
        run.config.update(dropout=0.1)
        del run.config["batch"]
        assert run.config.lr == 3e-4
        with pytest.raises(TypeError, match="'bad'"):
            run.config["bad"] = object()
    config = tether.load_run(run.id, dir=run_dir).config
    assert config == {
        "lr": 3e-4,
        "data": "/data",
        "opt": {"name": "adam", "betas": [0.9, 0.99]},
        "layers": [64, 64],
        "dropout": 0.1,
    }


def test_summary_is_last_logged_value_unless_set(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        for i in range(5):
            run.log({"loss": 1.0 / (i + 1), "acc": i / 10})
        run.summary["acc"] = 0.99  # the user's value wins
        run.summary["best_epoch"] = 3
        assert run.summary["loss"] == 0.2
        assert dict(run.summary) == {"loss": 0.2, "acc": 0.99, "best_epoch": 3}
    summary = tether.load_run(run.id, dir=run_dir).summary
    assert summary == {"loss": 0.2, "acc": 0.99, "best_epoch": 3}


def test_identity_and_metadata(run_dir: Path) -> None:
    run = tether.init(
        "proj",
        "my-run",
        dir=run_dir,
        group="g",
        job_type="train",
        tags=["a", "b"],
        notes="n",
        console="off",
    )
    assert (run.project, run.name) == ("proj", "my-run")
    assert run.dir.parent == run_dir / "tether"
    assert run.id in run.dir.name
    run.finish()
    data = tether.load_run(run.id, dir=run_dir)
    assert (data.project, data.name, data.group, data.job_type) == ("proj", "my-run", "g", "train")
    assert data.tags == ["a", "b"] and data.notes == "n"
    assert data.state == "finished" and data.exit_code == 0


def test_environment_sets_what_arguments_would(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TETHER_PROJECT", "from-env")
    monkeypatch.setenv("TETHER_DIR", str(run_dir))
    monkeypatch.setenv("TETHER_TAGS", "x, y")
    monkeypatch.setenv("TETHER_CONSOLE", "off")
    with tether.init(name="n") as run:
        assert run.project == "from-env"
    data = tether.load_run(run.id, dir=run_dir)
    assert data.tags == ["x", "y"]


def test_bad_settings_name_the_setting(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match="mode='nope'"):
        tether.init(dir=run_dir, mode="nope")
    monkeypatch.setenv("TETHER_MODE", "sometimes")
    with pytest.raises(UsageError, match="TETHER_MODE"):
        tether.init(dir=run_dir)


def test_exception_in_with_block_marks_failed(run_dir: Path) -> None:
    with pytest.raises(RuntimeError), tether.init(dir=run_dir, console="off") as run:
        run.log({"x": 1})
        raise RuntimeError("boom")
    data = tether.load_run(run.id, dir=run_dir)
    assert data.state == "failed" and data.rows()[0]["x"] == 1


def test_log_after_finish_raises_and_says_why(run_dir: Path) -> None:
    run = tether.init(dir=run_dir, console="off")
    run.finish()
    run.finish()  # idempotent
    with pytest.raises(UsageError, match="finish"):
        run.log({"x": 1})
    with pytest.raises(UsageError, match="init"):
        tether.log({"x": 1})


def test_module_level_log_goes_to_current_run(run_dir: Path) -> None:
    run = tether.init(dir=run_dir, console="off")
    tether.log({"x": 1})
    assert tether.flush() is True
    assert tether.load_run(run.id, dir=run_dir).rows()[0]["x"] == 1
    tether.finish()
    assert tether.current_run() is None


def test_disabled_mode_is_a_no_op(run_dir: Path) -> None:
    run = tether.init(dir=run_dir, mode="disabled", config={"lr": 1})
    run.log({"x": object()})  # not even looked at
    tether.log({"x": 1})
    run.config["b"] = 2
    assert run.config["lr"] == 1
    run.finish()
    assert not (run_dir / "tether").exists()


def test_two_threads_logging_at_once_lose_nothing(run_dir: Path) -> None:
    run = tether.init(dir=run_dir, console="off")

    def work(name: str) -> None:
        for i in range(5000):
            run.log({name: i})

    threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.finish()
    history = tether.load_run(run.id, dir=run_dir).rows()
    assert len(history) == 10000
    assert sorted(r["_step"] for r in history) == list(range(10000))
    for name in ("t0", "t1"):
        assert [r[name] for r in history if name in r] == list(range(5000))


def test_resume_continues_steps_and_config(run_dir: Path) -> None:
    with tether.init(dir=run_dir, id="fixed-id", config={"lr": 1}, console="off") as run:
        run.log({"x": 0})
        run.log({"x": 1})
    with pytest.raises(UsageError, match="resume='allow'"):
        tether.init(dir=run_dir, id="fixed-id", console="off")
    with pytest.raises(UsageError, match="no run 'other'"):
        tether.init(dir=run_dir, id="other", resume="must", console="off")
    with tether.init(dir=run_dir, id="fixed-id", resume="allow", console="off") as again:
        assert again.name == run.name
        assert again.config["lr"] == 1
        again.log({"x": 2})
    data = tether.load_run("fixed-id", dir=run_dir)
    assert [r["_step"] for r in data.rows()] == [0, 1, 2]
    assert data.state == "finished"


def test_load_run_by_prefix_latest_and_path(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        pass
    assert tether.load_run(run.id[:5], dir=run_dir).id == run.id
    assert tether.load_run("latest", dir=run_dir).id == run.id
    assert tether.load_run(run.dir).id == run.id
    with pytest.raises(tether.RunNotFoundError, match="tether ls"):
        tether.load_run("zzzzzz", dir=run_dir)


def test_history_frame(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        run.log({"a": 1.0})
        run.log({"a": 2.0, "b": "x"})
    frame = tether.load_run(run.id, dir=run_dir).history()
    assert list(frame["a"]) == [1.0, 2.0]
    assert {"_step", "_time", "_writer", "a", "b"} <= set(frame.columns)


def test_a_new_run_is_on_disk_before_its_first_record(run_dir: Path) -> None:
    run = tether.init(dir=run_dir, console="off")
    data = tether.load_run(run.dir)  # readable at once: nothing logged, no config
    assert data.state == "running" and data.rows() == [] and data.id == run.id
    run.finish()
