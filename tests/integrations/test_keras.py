"""Keras 3's TetherCallback with a real model on the torch backend."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import tether
from tests.conftest import run_script
from tether.store import layout

# Keras picks its backend when first imported; without this it looks for TensorFlow.
os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip("keras")

TRAINING = """
import os
os.environ["KERAS_BACKEND"] = "torch"
import numpy as np
import keras
import tether
from tether.integrations.keras import TetherCallback

try:
    TetherCallback(projekt="typo")
except TypeError as exc:
    print("rejected:", exc)


def model():
    keras.utils.set_random_seed(0)
    net = keras.Sequential([
        keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1),
    ])
    net.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse", metrics=["mae"])
    return net


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    callback = TetherCallback(project="tiny", dir=".", name="started", config={"data": "synthetic"})
    model().fit(
        x, y, epochs=2, batch_size=16, validation_split=0.25, callbacks=[callback], verbose=2
    )
    print("after fit:", callback.tether_run.state)

    # A sweep: a new callback's run ends the previous callback's run when it starts.
    second = TetherCallback(project="tiny", dir=".", name="second")
    model().fit(x, y, epochs=1, batch_size=16, callbacks=[second], verbose=0)
    print("started, once the second callback trained:", callback.tether_run.state)
    print("after the second fit:", second.tether_run.state)

    mine = tether.init(project="tiny", dir=".", name="given")
    print("second, after tether.init():", second.tether_run.state)
    model().fit(x, y, epochs=2, batch_size=16, callbacks=[TetherCallback(run=mine)], verbose=0)
    mine.log({"after_fit": 1.0})  # a run passed in stays open for its owner
    mine.finish()
"""


def _lines(data: tether.RunData) -> list[str]:
    return [line.text for line in data.console_lines()]


def test_fit_logs_batches_and_epochs_and_the_run_outlives_fit(run_dir: Path) -> None:
    result = run_script(run_dir, TRAINING, timeout=240)
    assert "rejected: keras TetherCallback(): got an unexpected keyword argument 'projekt'" in (
        result.stdout
    )
    runs = {tether.load_run(p).name: tether.load_run(p) for p in layout.list_run_dirs(run_dir)}
    assert set(runs) == {"started", "second", "given"}
    data = runs["started"]
    # The run stays open after fit, printing included, until the next callback's run starts.
    assert "after fit: running" in _lines(data)
    assert data.state == "finished" and data.exit_code == 0
    assert data.summary["_train_end"]["state"] == "finished"
    second = runs["second"]
    assert "started, once the second callback trained: finished" in _lines(second)
    assert "after the second fit: running" in _lines(second)
    assert second.state == "finished" and second.summary["_train_end"]["state"] == "finished"
    assert "second, after tether.init(): finished" in _lines(runs["given"])
    assert {"batch/loss", "batch/mae", "epoch/loss", "epoch/val_loss", "epoch/val_mae"} <= set(
        data.keys
    )
    # 48 training samples (validation_split=0.25) in batches of 16: 3 steps an epoch.
    assert [row["_step"] for row in data.rows() if "batch/loss" in row] == list(range(6))
    assert [(row["_step"], row["epoch"]) for row in data.rows() if "epoch" in row] == [
        (2, 0),
        (5, 1),
    ]
    config = data.config
    assert config["data"] == "synthetic" and config["epochs"] == 2 and config["steps"] == 3
    assert config["loss"] == "mse" and config["parameters"] == 49
    assert config["optimizer"]["name"] == "sgd"
    assert any("Epoch 2/2" in line.text for line in data.console_lines())

    given = runs["given"]
    assert given.state == "finished"
    assert len([row for row in given.rows() if "batch/loss" in row]) == 8
    assert given.rows()[-1]["after_fit"] == 1.0
