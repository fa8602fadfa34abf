"""TetherLogger with a real Lightning Trainer: one process, and two ranks spawned or forked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tether
from tests.conftest import only_run, run_script
from tether.store import layout

pytest.importorskip("lightning")

TRAINING = """
import json, sys
import torch
from torch.utils.data import DataLoader, TensorDataset

package, strategy = sys.argv[1], sys.argv[2]
if package == "pytorch_lightning":
    import pytorch_lightning as L
else:
    import lightning.pytorch as L
from tether.integrations.lightning import TetherLogger


class Tiny(L.LightningModule):
    def __init__(self, lr=0.1, hidden=4, fail=False):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(4, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1)
        )
        self.steps = []

    def training_step(self, batch, batch_idx):
        if self.hparams.fail and self.current_epoch == 1:
            raise RuntimeError("diverged")
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train/loss", loss)
        self.steps.append(self.trainer.global_step)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("val/loss", loss, on_step=True, on_epoch=False)

    def test_step(self, batch, batch_idx):
        x, y = batch
        self.log("test/loss", torch.nn.functional.mse_loss(self.net(x), y))

    def on_train_epoch_start(self):
        print(f"rank {self.global_rank} starts epoch {self.current_epoch}")

    def on_train_end(self):
        if self.global_rank == 0:
            with open("steps.json", "w") as handle:
                json.dump(self.steps, handle)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def data(n):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 4, generator=g), torch.randn(n, 1, generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=8)


def trainer(logger, devices=1, strategy="auto"):
    return L.Trainer(
        max_epochs=2, accelerator="cpu", devices=devices, strategy=strategy, logger=logger,
        log_every_n_steps=1, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0,
    )


if __name__ == "__main__":
    logger = TetherLogger(project="tiny", dir=".", config={"data": "synthetic"})
    assert isinstance(logger, L.loggers.Logger)
    if strategy == "single":
        fit = trainer(logger)
        fit.fit(Tiny(), data(32), data(16))
        print("after fit:", logger.experiment.state)
        fit.test(Tiny(), data(16))  # logs again after finalize: the same run continues
        failing = TetherLogger(dir=".", name="failing")
        try:
            trainer(failing).fit(Tiny(fail=True), data(16))
        except RuntimeError:
            pass
        print("failing run:", failing.experiment.state)
    else:
        trainer(logger, devices=2, strategy=strategy).fit(Tiny(), data(32), data(16))
    print("main process done")
"""


def _rows(data: tether.RunData, key: str) -> list[dict[str, object]]:
    return [row for row in data.history if key in row]


def _runs_by_name(run_dir: Path) -> dict[str, tether.RunData]:
    return {run.name: run for run in map(tether.load_run, layout.list_run_dirs(run_dir))}


def test_single_process_fit_then_test_then_a_failing_fit(run_dir: Path) -> None:
    result = run_script(run_dir, TRAINING, args=["lightning", "single"], timeout=240)
    assert "after fit: finished" in result.stdout
    assert "failing run: failed" in result.stdout
    runs = _runs_by_name(run_dir)
    data = next(run for name, run in runs.items() if name != "failing")
    assert data.state == "finished"
    assert data.config == {"data": "synthetic", "lr": 0.1, "hidden": 4, "fail": False}
    assert {"train/loss", "val/loss", "test/loss", "epoch"} <= set(data.keys)
    # 32 samples / batch 8 = 4 steps an epoch: the steps are the trainer's global steps.
    train_steps = [row["_step"] for row in _rows(data, "train/loss")]
    assert train_steps == json.loads((run_dir / "steps.json").read_text()) == list(range(8))
    # Validation steps restart every epoch (out of order after training steps): all kept.
    assert [row["_step"] for row in _rows(data, "val/loss")] == [0, 1, 2, 3]
    assert len(_rows(data, "test/loss")) == 1
    assert data.summary["checkpoint/best_model_path"].endswith(".ckpt")
    assert {w.label for w in data.writers} == {"main"}
    assert runs["failing"].state == "failed"


def test_pytorch_lightning_package(run_dir: Path) -> None:
    pytest.importorskip("pytorch_lightning")
    run_script(run_dir, TRAINING, args=["pytorch_lightning", "single"], timeout=240)
    data = next(run for name, run in _runs_by_name(run_dir).items() if name != "failing")
    assert [row["_step"] for row in _rows(data, "train/loss")] == list(range(8))
    assert data.state == "finished"


@pytest.mark.parametrize("strategy", ["ddp_spawn", "ddp_fork"])
def test_two_ranks_log_from_rank0_and_both_consoles_are_kept(run_dir: Path, strategy: str) -> None:
    result = run_script(run_dir, TRAINING, args=["lightning", strategy], timeout=240)
    assert "Traceback" not in result.stderr
    data = only_run(run_dir)
    assert data.state == "finished"
    assert data.config == {"data": "synthetic", "lr": 0.1, "hidden": 4, "fail": False}
    # Each rank sees 16 of the 32 samples: 2 steps an epoch, logged by rank 0 only.
    train = _rows(data, "train/loss")
    assert [row["_step"] for row in train] == list(range(4))
    assert json.loads((run_dir / "steps.json").read_text()) == list(range(4))
    assert {row["_writer"] for row in data.history} == {"rank0"}
    assert len(_rows(data, "val/loss")) == 2
    lines = {(line.writer, line.text) for line in data.console}
    for rank in (0, 1):
        for epoch in (0, 1):
            assert (f"rank{rank}", f"rank {rank} starts epoch {epoch}") in lines
    assert ("main", "main process done") in lines
