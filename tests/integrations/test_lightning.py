"""TetherLogger with a real Lightning Trainer: one process, and two ranks spawned, forked or
relaunched (``ddp``)."""

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
            if self.hparams.fail == "interrupt":
                raise KeyboardInterrupt
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


class Announce(L.loggers.Logger):
    # Finalized after the TetherLogger (the trainer's loggers in order): prints on every rank
    # once the trainer is done.
    name, version = "announce", 0

    def log_hyperparams(self, *args, **kwargs):
        pass

    def log_metrics(self, *args, **kwargs):
        pass

    def finalize(self, status):
        print(f"rank {L.utilities.rank_zero_only.rank} after training: {status}")


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
    logger = TetherLogger(project="tiny", dir=".", name="first", config={"data": "synthetic"})
    assert isinstance(logger, L.loggers.Logger)
    if strategy == "single":
        fit = trainer(logger)
        fit.fit(Tiny(), data(32), data(16))
        print("after fit:", logger.experiment.state)
        fit.test(Tiny(), data(16))  # logs to the same run, still open
        failing = TetherLogger(dir=".", name="failing")  # its run ends the first one
        print("first, once the failing one started:", logger.experiment.state)
        try:
            trainer(failing).fit(Tiny(fail=True), data(16))
        except RuntimeError:
            pass
        print("failing run:", failing.experiment.state)
        # Lightning turns Ctrl-C into finalize("failed") and sys.exit(1): the run ends killed.
        interrupted = TetherLogger(dir=".", name="interrupted")
        trainer(interrupted).fit(Tiny(fail="interrupt"), data(16))
    elif strategy == "ddp":  # Lightning reruns this script for rank 1; the main process is rank 0
        fit = trainer(logger, devices=2, strategy="ddp")
        fit.fit(Tiny(), data(32), data(16))
        print(f"rank {fit.global_rank} after fit: {logger.experiment.state}")
    else:  # ddp_spawn, ddp_fork: a sweep of two trainings, each with a logger of its own
        trainer([logger, Announce()], devices=2, strategy=strategy).fit(Tiny(), data(32), data(16))
        print("main after the first fit:", logger.experiment.state)
        second = TetherLogger(project="tiny", dir=".", name="second")
        print("first, once the second logger started:", logger.experiment.state)
        trainer([second, Announce()], devices=2, strategy=strategy).fit(Tiny(), data(32), data(16))
        print("main after the second fit:", second.experiment.state)
    print("main process done")
"""


def _rows(data: tether.RunData, key: str) -> list[dict[str, object]]:
    return [row for row in data.rows() if key in row]


def _runs_by_name(run_dir: Path) -> dict[str, tether.RunData]:
    return {run.name: run for run in map(tether.load_run, layout.list_run_dirs(run_dir))}


def _lines(data: tether.RunData) -> set[tuple[str, str]]:
    return {(line.writer, line.text) for line in data.console_lines()}


def test_single_process_fit_then_test_then_a_failing_and_an_interrupted_fit(run_dir: Path) -> None:
    result = run_script(run_dir, TRAINING, args=["lightning", "single"], timeout=240, check=False)
    assert result.returncode == 1, result.stderr  # Lightning's sys.exit(1) after Ctrl-C
    runs = _runs_by_name(run_dir)
    assert set(runs) == {"first", "failing", "interrupted"}
    data = runs["first"]
    # The run outlives fit(), printing included, until the next logger's run starts.
    assert ("main", "after fit: running") in _lines(data)
    assert data.state == "finished"
    assert data.summary["_train_end"]["state"] == "finished"
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
    # A failed fit leaves its run open; it ends failed when the next run starts.
    failing = runs["failing"]
    assert ("main", "first, once the failing one started: finished") in _lines(failing)
    assert ("main", "failing run: running") in _lines(failing)
    assert failing.summary["_train_end"]["state"] == "failed"
    assert failing.state == "failed"
    # Interrupted, then sys.exit(1): tether's exit hook alone would say finished.
    interrupted = runs["interrupted"]
    assert interrupted.summary["_train_end"]["state"] == "killed"
    assert interrupted.state == "killed" and interrupted.exit_code == 130


def test_pytorch_lightning_package(run_dir: Path) -> None:
    pytest.importorskip("pytorch_lightning")
    run_script(run_dir, TRAINING, args=["pytorch_lightning", "single"], timeout=240, check=False)
    data = _runs_by_name(run_dir)["first"]
    assert [row["_step"] for row in _rows(data, "train/loss")] == list(range(8))
    assert data.state == "finished"


@pytest.mark.parametrize("strategy", ["ddp_spawn", "ddp_fork"])
def test_two_ranks_a_sweep_of_two_fits_and_every_rank_prints_after_training(
    run_dir: Path, strategy: str
) -> None:
    result = run_script(run_dir, TRAINING, args=["lightning", strategy], timeout=300)
    assert "Traceback" not in result.stderr
    runs = _runs_by_name(run_dir)
    assert set(runs) == {"first", "second"}
    first, second = runs["first"], runs["second"]
    # The main process's prints after each fit are kept; the first run ends when the second
    # logger starts its own.
    assert ("main", "main after the first fit: running") in _lines(first)
    assert ("main", "first, once the second logger started: finished") in _lines(second)
    assert ("main", "main after the second fit: running") in _lines(second)
    assert ("main", "main process done") in _lines(second)
    for data in (first, second):
        assert data.state == "finished"
        assert data.summary["_train_end"]["state"] == "finished"
        # Each rank sees 16 of the 32 samples: 2 steps an epoch, logged by rank 0 only.
        assert [row["_step"] for row in _rows(data, "train/loss")] == list(range(4))
        assert {row["_writer"] for row in data.rows()} == {"rank0"}
        assert len(_rows(data, "val/loss")) == 2
        lines = _lines(data)
        for rank in (0, 1):
            for epoch in (0, 1):
                assert (f"rank{rank}", f"rank {rank} starts epoch {epoch}") in lines
            # Every rank: its line printed once the trainer finalized the loggers is kept.
            assert (f"rank{rank}", f"rank {rank} after training: success") in lines
    assert first.config == {"data": "synthetic", "lr": 0.1, "hidden": 4, "fail": False}
    assert json.loads((run_dir / "steps.json").read_text()) == list(range(4))


def test_ddp_every_rank_prints_after_fit(run_dir: Path) -> None:
    run_script(run_dir, TRAINING, args=["lightning", "ddp"], timeout=300)
    data = only_run(run_dir)
    # The main process is rank 0 (it started the run), rank 1 a relaunch of the script.
    assert ("main", "rank 0 after fit: running") in _lines(data)
    assert ("rank1", "rank 1 after fit: running") in _lines(data)
    assert data.state == "finished"
    assert data.summary["_train_end"]["state"] == "finished"
