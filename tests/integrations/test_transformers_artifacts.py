"""Transformers' TetherCallback(log_model=True): the model at the end of training (the best
checkpoint's with ``load_best_model_at_end``) becomes an artifact version a later run uses,
downloads and loads with ``from_pretrained``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_script

pytest.importorskip("transformers")

TRAINING = """
import json
import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

import tether
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


def train(name, **options):
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16, max_position_embeddings=16, num_labels=2,
    )
    args = TrainingArguments(
        output_dir=f"out-{name}", num_train_epochs=2, per_device_train_batch_size=8,
        learning_rate=1e-3, report_to="none", use_cpu=True, disable_tqdm=True, **options,
    )
    callback = TetherCallback(project="tiny", dir=".", name=name, log_model=True)
    trainer = Trainer(
        model=BertForSequenceClassification(config), args=args, train_dataset=Tokens(16),
        eval_dataset=Tokens(8), callbacks=[callback],
    )
    trainer.train()
    return callback.tether_run.id, trainer


def describe(artifact):
    return {"version": artifact.version, "aliases": sorted(artifact.aliases),
            "metadata": artifact.metadata, "files": sorted(f.path for f in artifact.files)}


if __name__ == "__main__":
    try:
        TetherCallback(log_model="checkpoint")
    except ValueError as exc:
        bad_value = str(exc)
    best_id, best = train(
        "best", eval_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
    )
    final_id, _ = train("final", save_strategy="no")
    consumer = tether.init(project="tiny", dir=".", name="consumer")
    state = best.state
    found = {"best_metric": state.best_metric, "best_checkpoint": state.best_model_checkpoint}
    found["bad_value"] = bad_value
    artifact = consumer.use_artifact(f"model-{best_id}:best")
    found["best"] = describe(artifact)
    found["final"] = describe(consumer.use_artifact(f"model-{final_id}:latest"))
    loaded = BertForSequenceClassification.from_pretrained(artifact.download(root="downloaded"))
    pairs = zip(loaded.state_dict().values(), best.model.state_dict().values())
    found["same_weights"] = all(torch.equal(a, b) for a, b in pairs)
    consumer.finish()
    print("FOUND", json.dumps(found))
"""


def test_log_model_logs_the_best_model_at_the_end_and_the_final_one(run_dir: Path) -> None:
    result = run_script(run_dir, TRAINING, timeout=240)
    line = next(x for x in result.stdout.splitlines() if x.startswith("FOUND "))
    found = json.loads(line.removeprefix("FOUND "))
    assert "log_model='checkpoint'; pass one of False, True" in found["bad_value"]
    best = found["best"]
    assert best["version"] == "v0" and best["aliases"] == ["best", "latest"]
    assert {"config.json", "model.safetensors"} <= set(best["files"])
    metadata = best["metadata"]
    assert metadata["score"] == pytest.approx(found["best_metric"])
    assert metadata["metric_for_best_model"] == "eval_loss"
    assert metadata["best_model_checkpoint"] == Path(found["best_checkpoint"]).name
    assert metadata["step"] == 4 and metadata["epoch"] == pytest.approx(2.0)
    assert found["same_weights"]  # the logged folder loads as the trained model
    # Without load_best_model_at_end: the final model, latest only, no best metric.
    final = found["final"]
    assert final["aliases"] == ["latest"] and "score" not in final["metadata"]
    assert "model.safetensors" in final["files"]
