"""TetherLogger's media, as WandbLogger's: ``log_image`` and ``log_table`` from a real Lightning
training, read back from the run folder; and ``save_dir``, which every Lightning logger takes."""

from __future__ import annotations

from pathlib import Path

import pytest

import tether
from tests.conftest import run_script
from tether.store import layout

pytest.importorskip("lightning")

TRAINING = """
import numpy as np
import pandas
import torch
from torch.utils.data import DataLoader, TensorDataset
import lightning.pytorch as L
import tether
from tether.integrations.lightning import TetherLogger


class Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val/loss", torch.nn.functional.mse_loss(self.net(x), y))

    def on_validation_epoch_end(self):
        step = self.trainer.global_step
        chw = torch.full((3, 6, 8), step / 8.0)  # a float CHW tensor in [0, 1]
        hwc = np.zeros((6, 8, 3), dtype=np.uint8)
        captions = [f"at {step}", "black"]
        self.logger.log_image("samples", images=[chw, hwc], caption=captions, step=step)
        self.logger.log_table(
            "preds", columns=["id", "loss", "image"],
            data=[[0, 0.5, tether.Image(chw)], [1, 0.25, None]], step=step,
        )

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def data(n):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)


if __name__ == "__main__":
    logger = TetherLogger(project="media", save_dir="out", name="m")
    L.Trainer(
        max_epochs=2, accelerator="cpu", logger=logger, log_every_n_steps=1,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        enable_checkpointing=False,
    ).fit(Tiny(), data(32), data(16))
    logger.log_table("frame", dataframe=pandas.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    # The user's mistakes raise at once, naming the argument; nothing logged is lost.
    for bad in (
        lambda: logger.log_image("bad", images=torch.zeros(3, 4, 4)),
        lambda: logger.log_image("bad", images=[np.zeros((4, 4))], caption=["a", "b"]),
        lambda: logger.log_image("bad", images=[np.zeros((4, 4))], masks=[None]),
        lambda: logger.log_table("bad", columns=["a"]),
    ):
        try:
            bad()
        except (TypeError, ValueError) as exc:
            print(type(exc).__name__, exc)
"""


def test_log_image_and_log_table_from_a_training(run_dir: Path) -> None:
    result = run_script(run_dir, TRAINING, timeout=240)
    # save_dir is the runs' root, as TETHER_DIR and tether.init(dir=...) are.
    [folder] = layout.list_run_dirs(run_dir / "out")
    data = tether.load_run(folder)
    assert data.name == "m" and data.state == "finished"

    samples = data.media("samples")
    # Two validation ends (after 4 and 8 training steps), two images each, in order.
    assert [(item.step, item.index) for item in samples] == [(4, 0), (4, 1), (8, 0), (8, 1)]
    assert [item.meta.get("caption") for item in samples] == ["at 4", "black", "at 8", "black"]
    first = samples[0].to_pil()
    assert first.size == (8, 6) and first.getpixel((0, 0)) == (128, 128, 128)
    assert samples[1].to_pil().getpixel((7, 5)) == (0, 0, 0)

    [table4, table8] = data.media("preds")
    assert (table4.step, table8.step) == (4, 8)
    frame = table8.to_pandas()
    assert list(frame.columns) == ["id", "loss", "image"]
    assert frame["loss"].tolist() == [0.5, 0.25]
    assert frame["image"][0].to_pil().getpixel((0, 0)) == (255, 255, 255)
    assert frame["image"][1] is None
    [logged] = data.media("frame")
    assert logged.to_pandas().to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}

    # Each mistake named what was given and the fix; none was logged.
    errors = [line for line in result.stdout.splitlines() if "Error " in line]
    assert len(errors) == 4, result.stdout
    assert errors[0].startswith("TypeError") and "list(batch)" in errors[0]
    assert errors[1].startswith("ValueError") and "caption has 2 entries for 1 images" in errors[1]
    assert errors[2].startswith("TypeError") and "masks not supported" in errors[2]
    assert errors[3].startswith("TypeError") and "data=" in errors[3]
    assert data.media("bad") == []


def test_save_dir_and_dir_naming_two_folders_is_refused(tmp_path: Path) -> None:
    from tether.integrations.lightning import TetherLogger

    with pytest.raises(TypeError, match="save_dir='a' and dir='b'"):
        TetherLogger(project="x", save_dir="a", dir="b")
