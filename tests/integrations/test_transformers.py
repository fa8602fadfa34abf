"""Transformers' TetherCallback with a real Trainer and a tiny BERT built from its config."""

from __future__ import annotations

from pathlib import Path

import pytest

import tether
from tests.conftest import only_run, run_script
from tests.integrations.conftest import run_torchrun
from tether.store import layout

pytest.importorskip("transformers")

TRAINING = """
import os
import torch
from transformers import (
    BertConfig, BertForSequenceClassification, Trainer, TrainerCallback, TrainingArguments,
)
from tether.integrations.transformers import TetherCallback


class Tokens(torch.utils.data.Dataset):
    def __init__(self, n):
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(1, 50, (n, 8), generator=g)

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        ids = self.ids[i]
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids[0] % 2}


class Announce(TrainerCallback):
    def on_epoch_end(self, args, state, control, **kwargs):
        print(f"rank {args.process_index} ends epoch {round(state.epoch)}")


if __name__ == "__main__":
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=50, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=16, max_position_embeddings=16, num_labels=2,
    )
    args = TrainingArguments(
        output_dir="out", num_train_epochs=2, per_device_train_batch_size=8,
        per_device_eval_batch_size=8, learning_rate=1e-3, logging_steps=1,
        eval_strategy="epoch", save_strategy="no", report_to="none", use_cpu=True,
        disable_tqdm=True, ddp_backend="gloo" if "WORLD_SIZE" in os.environ else None,
    )
    callback = TetherCallback(project="tiny", dir=".", name="first", config={"data": "synthetic"})
    trainer = Trainer(
        model=BertForSequenceClassification(config), args=args, train_dataset=Tokens(32),
        eval_dataset=Tokens(16), callbacks=[callback, Announce()],
    )
    trainer.train()
    print(f"rank {args.process_index} after train: {callback.tether_run.state}")
    if "WORLD_SIZE" not in os.environ:
        # A sweep in one process: the next callback's run ends this one when it starts.
        second = TetherCallback(project="tiny", dir=".", name="second")
        Trainer(
            model=BertForSequenceClassification(config), args=args, train_dataset=Tokens(16),
            eval_dataset=Tokens(8), callbacks=[second],
        ).train()
        print("first, once the second callback trained:", callback.tether_run.state)
"""


def _steps(data: tether.RunData, key: str) -> list[object]:
    return [row["_step"] for row in data.rows() if key in row]


def _lines(data: tether.RunData) -> set[tuple[str, str]]:
    return {(line.writer, line.text) for line in data.console_lines()}


def test_single_process_and_a_second_callback(run_dir: Path) -> None:
    run_script(run_dir, TRAINING, timeout=240)
    runs = {run.name: run for run in map(tether.load_run, layout.list_run_dirs(run_dir))}
    assert set(runs) == {"first", "second"}
    data = runs["first"]
    # The run outlives train(), printing included, until the next callback's run starts.
    assert ("main", "rank 0 after train: running") in _lines(data)
    assert data.state == "finished"
    assert data.summary["_train_end"]["state"] == "finished"
    second = runs["second"]
    assert ("main", "first, once the second callback trained: finished") in _lines(second)
    assert second.state == "finished" and second.summary["_train_end"]["state"] == "finished"
    assert {"train/loss", "train/learning_rate", "train/grad_norm", "eval/loss", "epoch"} <= set(
        data.keys
    )
    # 32 samples in batches of 8: 4 optimizer steps an epoch, logged at every global step.
    assert _steps(data, "train/loss") == list(range(1, 9))
    assert _steps(data, "eval/loss") == [4, 8]
    assert data.config["data"] == "synthetic"
    assert data.config["learning_rate"] == 1e-3 and data.config["num_train_epochs"] == 2
    assert data.config["model"]["num_hidden_layers"] == 2
    assert data.summary["train_runtime"] > 0 and "train_loss" in data.summary
    assert ("main", "rank 0 ends epoch 2") in _lines(data)


def test_two_processes_under_torchrun_keep_printing_after_train(run_dir: Path) -> None:
    run_torchrun(run_dir, TRAINING)
    data = only_run(run_dir)
    # Every rank alike: each one's line printed after train() is in the run.
    for rank in (0, 1):
        assert (f"rank{rank}", f"rank {rank} after train: running") in _lines(data)
    assert data.state == "finished"
    assert data.summary["_train_end"]["state"] == "finished"
    # Each process sees 16 of the 32 samples: 2 steps an epoch; process zero alone logs.
    assert _steps(data, "train/loss") == [1, 2, 3, 4]
    assert _steps(data, "eval/loss") == [2, 4]
    assert {row["_writer"] for row in data.rows()} == {"rank0"}
    assert data.config["per_device_train_batch_size"] == 8
    lines = _lines(data)
    for rank in (0, 1):
        for epoch in (1, 2):
            assert (f"rank{rank}", f"rank {rank} ends epoch {epoch}") in lines
