"""fastai's TetherCallback with a real Learner: plain training, and two ranks under torchrun."""

from __future__ import annotations

from pathlib import Path

import pytest

import tether
from tests.conftest import only_run, run_script
from tests.integrations.conftest import run_torchrun
from tether.store import layout

pytest.importorskip("fastai")

TRAINING = """
import sys
import torch
from fastai.basics import *
import fastai.distributed
from tether.integrations.fastai import TetherCallback


class CPUDistributedDL(fastai.distributed.DistributedDL):
    # fastai broadcasts the shuffled indices as a CUDA tensor (for NCCL); gloo takes CPU ones.
    def _broadcast(self, t, rank):
        t = torch.LongTensor(t)
        torch.distributed.broadcast(t, rank)
        return t.tolist()


fastai.distributed.DistributedDL = CPUDistributedDL


class Announce(Callback):
    def after_epoch(self):
        print(f"rank {rank_distrib()} ends epoch {self.epoch}")


def data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    pairs = list(zip(x, x.sum(1, keepdim=True)))
    return DataLoaders.from_dsets(pairs[:48], pairs[48:], bs=8, device="cpu")


if __name__ == "__main__":
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    callback = TetherCallback(project="tiny", dir=".", name="first", config={"data": "synthetic"})
    learn = Learner(
        data(), model, loss_func=MSELossFlat(), metrics=[mae], cbs=[callback, Announce()]
    )
    if rank_distrib() == 0 and num_distrib() == 0:
        learn.fit(2, lr=1e-2)
        print("after fit:", callback.tether_run.state)
        learn.fit(1, lr=1e-3)  # a second fit continues the same run
        # A sweep in one process: the next callback's run ends this one when it starts.
        second = TetherCallback(project="tiny", dir=".", name="second")
        Learner(data(), model, loss_func=MSELossFlat(), cbs=[second]).fit(1, lr=1e-3)
        print("first, once the second callback trained:", callback.tether_run.state)
    else:
        with learn.distrib_ctx(cpu=True):
            learn.fit(2, lr=1e-2)
        print(f"rank {rank_distrib()} after fit: {callback.tether_run.state}")
"""


def _steps(data: tether.RunData, key: str) -> list[object]:
    return [row["_step"] for row in data.rows() if key in row]


def _lines(data: tether.RunData) -> set[tuple[str, str]]:
    return {(line.writer, line.text.strip()) for line in data.console_lines()}  # progress bars pad


def test_plain_training_then_a_second_fit_then_a_second_callback(run_dir: Path) -> None:
    run_script(run_dir, TRAINING, timeout=240)
    runs = {run.name: run for run in map(tether.load_run, layout.list_run_dirs(run_dir))}
    assert set(runs) == {"first", "second"}
    data = runs["first"]
    # The run outlives each fit, printing included, until the next callback's run starts.
    assert ("main", "after fit: running") in _lines(data)
    assert data.state == "finished"
    assert data.summary["_train_end"]["state"] == "finished"
    second = runs["second"]
    assert ("main", "first, once the second callback trained: finished") in _lines(second)
    assert second.state == "finished" and second.summary["_train_end"]["state"] == "finished"
    expected = {"train/loss", "train/smooth_loss", "lr", "mom", "epoch", "train_loss"}
    assert expected | {"valid_loss", "mae"} <= set(data.keys)
    # 48 training samples in batches of 8: 6 steps an epoch, counted on across both fits.
    assert _steps(data, "train/loss") == list(range(18))
    assert _steps(data, "valid_loss") == [5, 11, 17]
    assert [row["epoch"] for row in data.rows() if "valid_loss" in row] == [0, 1, 0]
    config = data.config
    assert config["data"] == "synthetic"
    assert config["model"] == "Sequential" and config["metrics"] == ["mae"]
    assert config["batch_size"] == 8 and config["train_size"] == 48
    assert config["lr"] == 1e-3 and config["epochs"] == 1  # the latest fit's
    assert ("main", "rank 0 ends epoch 1") in _lines(data)


def test_distributed_training_logs_rank0_and_both_ranks_print_after_fit(run_dir: Path) -> None:
    run_torchrun(run_dir, TRAINING)
    data = only_run(run_dir)
    # Every rank alike: each one's line printed after fit() is in the run.
    for rank in (0, 1):
        assert (f"rank{rank}", f"rank {rank} after fit: running") in _lines(data)
    assert data.state == "finished"
    assert data.summary["_train_end"]["state"] == "finished"
    # Each rank trains on 24 of the 48 samples: 3 steps an epoch; rank 0 alone logs them.
    assert _steps(data, "train/loss") == list(range(6))
    assert _steps(data, "valid_loss") == [2, 5]
    assert {row["_writer"] for row in data.rows()} == {"rank0"}
    assert data.config["epochs"] == 2 and data.config["model"] == "Sequential"
    lines = _lines(data)
    for rank in (0, 1):
        for epoch in (0, 1):
            assert (f"rank{rank}", f"rank {rank} ends epoch {epoch}") in lines
