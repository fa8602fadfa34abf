"""A notebook in a real Jupyter kernel: a second ``fit()`` continues the callback's run.

As a wandb run in Jupyter, the run an integration started stays open across cells (and
records what they print) until the user starts another run or the kernel shuts down.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import tether
from tether.store import layout

os.environ.setdefault("KERAS_BACKEND", "torch")  # as in test_keras: no TensorFlow here
pytest.importorskip("keras")
pytest.importorskip("ipykernel")
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

CELLS = [
    """
import os
os.environ["KERAS_BACKEND"] = "torch"
import numpy as np
import keras
import tether
from tether.integrations.keras import TetherCallback

rng = np.random.default_rng(0)
x = rng.normal(size=(48, 4)).astype("float32")
y = x.sum(axis=1, keepdims=True)
keras.utils.set_random_seed(0)
model = keras.Sequential(
    [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
)
model.compile(optimizer="sgd", loss="mse")
callback = TetherCallback(project="notebook", dir=".", name="cells")
""",
    "model.fit(x, y, epochs=1, batch_size=16, callbacks=[callback], verbose=0);",
    'print("between the fits:", callback.tether_run.state)',
    """
model.fit(x, y, epochs=1, batch_size=16, callbacks=[callback], verbose=0)
print("after the second fit:", callback.tether_run.state)
""",
    """
mine = tether.init(project="notebook", dir=".", name="mine")
print("cells, once mine started:", callback.tether_run.state)
""",
]


def _lines(data: tether.RunData) -> list[str]:
    return [line.text for line in data.console_lines()]


def test_two_fits_in_one_kernel_make_one_run_that_keeps_the_print_between_them(
    run_dir: Path,
) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    client = nbclient.NotebookClient(
        notebook,
        timeout=180,  # per cell
        kernel_name="python3",
        resources={"metadata": {"path": str(run_dir)}},
    )
    client.execute()  # then shuts the kernel down: its exit ends the run still open
    printed = [
        output.get("text", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    ]
    assert "between the fits: running\n" in printed, printed

    runs = {run.name: run for run in map(tether.load_run, layout.list_run_dirs(run_dir))}
    assert set(runs) == {"cells", "mine"}
    cells = runs["cells"]
    # One run for both fits: 48 samples in batches of 16, steps counted on across the fits.
    assert [row["_step"] for row in cells.rows() if "batch/loss" in row] == list(range(6))
    assert "between the fits: running" in _lines(cells)
    assert "after the second fit: running" in _lines(cells)
    assert cells.summary["_train_end"]["state"] == "finished"
    # The user's tether.init() ended it; the kernel's exit ended the user's run.
    assert cells.state == "finished"
    assert "cells, once mine started: finished" in _lines(runs["mine"])
    assert runs["mine"].state == "finished"
