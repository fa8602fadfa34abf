"""fastai's TetherCallback(log_preds=True), as WandbCallback's: a table of predictions on the
first validation samples each epoch, decoded as fastai shows them (images back to pixels,
categories to names), from a real tiny image classifier and a real regression."""

from __future__ import annotations

from pathlib import Path

import pytest

import tether
from tests.conftest import run_script
from tether.store import layout

pytest.importorskip("fastai")

TRAINING = """
import numpy as np
import torch
from fastai.data.block import CategoryBlock, DataBlock
from fastai.data.core import DataLoaders
from fastai.data.transforms import IndexSplitter, Normalize
from fastai.learner import Learner
from fastai.losses import CrossEntropyLossFlat, MSELossFlat
from fastai.vision.data import ImageBlock
from tether.integrations.fastai import TetherCallback

torch.manual_seed(0)
# 8x8 RGB images: light ones (all 200) and dark ones (all 30); the last 8 are validation.
pixels = [np.full((8, 8, 3), 200 if i % 2 else 30, np.uint8) for i in range(24)]
labels = ["light" if i % 2 else "dark" for i in range(24)]
block = DataBlock(
    blocks=(ImageBlock, CategoryBlock), get_x=lambda i: pixels[i], get_y=lambda i: labels[i],
    splitter=IndexSplitter(list(range(16, 24))),
    batch_tfms=Normalize.from_stats([0.5] * 3, [0.25] * 3),
)
dls = block.dataloaders(list(range(24)), bs=4, device="cpu", num_workers=0)
model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
callback = TetherCallback(
    project="preds", dir=".", name="images", log_preds=True, n_preds=5, log_batches=False
)
Learner(dls, model, loss_func=CrossEntropyLossFlat(), cbs=callback).fit(2, lr=1e-2)

# A regression on vectors: inputs and numbers, no images.
x = torch.randn(32, 4)
pairs = list(zip(x, x.sum(1, keepdim=True)))
dls = DataLoaders.from_dsets(pairs[:24], pairs[24:], bs=8, device="cpu")
callback = TetherCallback(project="preds", dir=".", name="vectors", log_preds=True, n_preds=3)
Learner(dls, torch.nn.Linear(4, 1), loss_func=MSELossFlat(), cbs=callback).fit(1, lr=1e-2)
try:
    TetherCallback(log_preds=True, n_preds=0)
except ValueError as exc:
    print("refused:", exc)
"""


def test_prediction_tables_each_epoch(run_dir: Path) -> None:
    result = run_script(run_dir, TRAINING, timeout=240)
    assert "refused: fastai TetherCallback(): n_preds=0" in result.stdout
    runs = {run.name: run for run in map(tether.load_run, layout.list_run_dirs(run_dir))}

    images = runs["images"]
    tables = images.media("predictions")
    # One table an epoch, at the epoch's last training step (4 batches an epoch).
    assert [table.step for table in tables] == [3, 7]
    assert {"train_loss", "valid_loss"} <= set(images.keys)
    frame = tables[-1].to_pandas()
    assert list(frame.columns) == ["input", "target", "prediction", "loss"]
    assert len(frame) == 5  # n_preds, from two validation batches of 4
    # The same validation samples every epoch, un-normalised back to their pixels.
    assert frame["target"].tolist() == ["dark", "light", "dark", "light", "dark"]
    assert tables[0].to_pandas()["target"].tolist() == frame["target"].tolist()
    for picture, target in zip(frame["input"], frame["target"], strict=True):
        pil = picture.to_pil()
        assert pil.size == (8, 8)
        assert abs(pil.getpixel((3, 3))[0] - (200 if target == "light" else 30)) <= 1
    assert set(frame["prediction"]) <= {"dark", "light"}
    assert all(loss >= 0 for loss in frame["loss"])

    vectors = runs["vectors"]
    [table] = vectors.media("predictions")
    frame = table.to_pandas()
    assert list(frame.columns) == ["input", "target", "prediction", "loss"] and len(frame) == 3
    assert all(isinstance(value, str) and "tensor" in value for value in frame["input"])
    assert all(isinstance(value, float) for value in frame["target"])
    assert all(isinstance(value, float) for value in frame["prediction"])
