"""What log() accepts, how it stores it, and how it refuses what it cannot store."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import tether


def _roundtrip(run_dir: Path, row: dict[str, object]) -> dict[str, object]:
    with tether.init(dir=run_dir, console="off") as run:
        run.log(row)
    history = tether.load_run(run.id, dir=run_dir).rows()
    assert len(history) == 1
    return {k: v for k, v in history[0].items() if not k.startswith("_")}


def test_every_scalar_type_round_trips(run_dir: Path) -> None:
    row = {
        "int": 7,
        "neg": -(2**63),
        "big": 2**64 - 1,
        "float": 0.1,
        "bool": True,
        "str": "héllo ✓",
        "none": None,
        "nan": math.nan,
        "inf": math.inf,
        "ninf": -math.inf,
    }
    back = _roundtrip(run_dir, row)
    assert math.isnan(back.pop("nan"))  # type: ignore[arg-type]
    row.pop("nan")
    assert back == row
    assert type(back["bool"]) is bool and type(back["int"]) is int


def test_numpy_and_torch_scalars_become_python_values(run_dir: Path) -> None:
    back = _roundtrip(
        run_dir,
        {
            "np_f32": np.float32(0.5),
            "np_i64": np.int64(3),
            "np_bool": np.bool_(True),
            "np_0d": np.array(2.5),
            "t_0d": torch.tensor(1.5),
            "t_int": torch.tensor(4),
        },
    )
    assert back == {
        "np_f32": 0.5,
        "np_i64": 3,
        "np_bool": True,
        "np_0d": 2.5,
        "t_0d": 1.5,
        "t_int": 4,
    }
    assert type(back["np_i64"]) is int


def test_nested_dicts_flatten_to_slash_keys(run_dir: Path) -> None:
    back = _roundtrip(run_dir, {"train": {"loss": 1.0, "acc": {"top1": 0.5}}, "lr": 0.1})
    assert back == {"train/loss": 1.0, "train/acc/top1": 0.5, "lr": 0.1}


@pytest.mark.parametrize(
    ("row", "error", "words"),
    [
        ({1: 2.0}, TypeError, ["key 1", "str(1)"]),
        ({"x": [1, 2]}, TypeError, ["'x'", "list"]),
        ({"x": object()}, TypeError, ["'x'", "object"]),
        ({"v": torch.ones(3)}, ValueError, ["'v'", "shape", ".item()"]),
        ({"v": np.ones((2, 2))}, ValueError, ["'v'", "(2, 2)"]),
        ({"big": 2**70}, ValueError, ["'big'", "64 bits"]),
        ({"_step": 1}, ValueError, ["'_step'", "reserved"]),
        ({"c": 1 + 2j}, TypeError, ["'c'", "complex"]),
        ({"a": {2: 1}}, TypeError, ["key 2", "'a/'"]),
    ],
)
def test_bad_input_names_the_key_and_loses_nothing(
    run_dir: Path, row: dict[object, object], error: type[Exception], words: list[str]
) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        run.log({"good": 1.0})
        with pytest.raises(error) as caught:
            run.log(row)  # type: ignore[arg-type]
        run.log({"good": 2.0})
    message = str(caught.value)
    for word in words:
        assert word in message, message
    history = tether.load_run(run.id, dir=run_dir).rows()
    assert [r["good"] for r in history] == [1.0, 2.0]


def test_log_rejects_a_non_dict(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run, pytest.raises(TypeError, match="dict"):
        run.log(0.5)  # type: ignore[arg-type]


def test_bad_step_is_refused(run_dir: Path) -> None:
    with tether.init(dir=run_dir, console="off") as run:
        with pytest.raises(TypeError, match="step must be an int"):
            run.log({"x": 1}, step=1.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=">= 0"):
            run.log({"x": 1}, step=-1)
        run.log({"x": 1}, step=np.int64(4))  # type: ignore[arg-type]
    assert tether.load_run(run.id, dir=run_dir).rows()[0]["_step"] == 4
