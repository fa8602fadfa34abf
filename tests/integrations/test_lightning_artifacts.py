"""TetherLogger(log_model=...): checkpoints as artifact versions, logged by rank 0 of a
``ddp_spawn`` training (``True``: the kept checkpoints when training ends) and of a
one-process training (``"all"``: each checkpoint as it is saved); a later run uses them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_script

pytest.importorskip("lightning")

TRAINING = """
import hashlib, json
import torch
from torch.utils.data import DataLoader, TensorDataset
import lightning.pytorch as L
from lightning.pytorch.callbacks import ModelCheckpoint

import tether
from tether.integrations.lightning import TetherLogger


class Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val/loss", torch.nn.functional.mse_loss(self.net(x), y), sync_dist=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def data(n):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)


def fit(logger, devices, strategy):
    # The loss falls every epoch: each checkpoint is the best so far.
    checkpoint = ModelCheckpoint(monitor="val/loss", mode="min", save_top_k=2)
    L.Trainer(
        max_epochs=3, accelerator="cpu", devices=devices, strategy=strategy, logger=logger,
        callbacks=[checkpoint], enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0,
    ).fit(Tiny(), data(32), data(16))
    return checkpoint


def describe(artifact):
    return {
        "version": artifact.version, "aliases": sorted(artifact.aliases),
        "metadata": artifact.metadata, "files": [f.path for f in artifact.files],
    }


if __name__ == "__main__":
    refused = []
    for bad in ({"log_model": "best"}, {"checkpoint_name": 3}):
        try:
            TetherLogger(project="ckpt", dir=".", **bad)
        except (TypeError, ValueError) as exc:
            refused.append(f"{type(exc).__name__}: {exc}")
    torch.manual_seed(0)
    at_end = TetherLogger(project="ckpt", dir=".", name="at-end", log_model=True)
    kept = fit(at_end, 2, "ddp_spawn")
    torch.manual_seed(0)
    each = TetherLogger(project="ckpt", dir=".", name="each", log_model="all")
    fit(each, 1, "auto")
    # Rank 0 put the best score in the run's summary (the main process's callback lacks it).
    summary = tether.load_run(at_end.version).summary
    found = {"best_score": summary["checkpoint/best_model_score"]}
    found["best_path"] = kept.best_model_path
    found["refused"] = refused
    consumer = tether.init(project="ckpt", dir=".", name="consumer")
    for key, logger in (("at_end", at_end), ("each", each)):
        name = f"model-{logger.version}"
        found[key] = {ref: describe(consumer.use_artifact(f"{name}:{ref}")) for ref in
                      ("v0", "v1", "v2", "best", "latest") if ref != "v2" or key == "each"}
    best = consumer.use_artifact(f"model-{at_end.version}:best")
    folder = best.download(root="downloaded")
    found["downloaded"] = hashlib.sha256((folder / best.files[0].path).read_bytes()).hexdigest()
    found["best_sha"] = hashlib.sha256(open(kept.best_model_path, "rb").read()).hexdigest()
    consumer.finish()
    print("FOUND", json.dumps(found))
"""


def test_log_model_true_under_ddp_spawn_and_all_in_one_process(run_dir: Path) -> None:
    result = run_script(run_dir, TRAINING, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("FOUND "))
    found = json.loads(line.removeprefix("FOUND "))

    # A log_model or checkpoint_name it does not take is refused at once, naming the choices.
    bad_value, bad_name = found["refused"]
    assert bad_value.endswith("log_model='best'; pass one of False, True, 'all'")
    assert bad_name.startswith("TypeError: TetherLogger(): checkpoint_name=3: artifact name must")

    # True: the two checkpoints top-k kept, logged once training ended (by rank 0, a spawned
    # process), oldest first: the newest is the best and the latest.
    at_end = found["at_end"]
    assert at_end["v0"]["aliases"] == []
    assert at_end["v1"]["aliases"] == at_end["best"]["aliases"] == ["best", "latest"]
    assert at_end["best"]["version"] == at_end["latest"]["version"] == "v1"
    metadata = at_end["best"]["metadata"]
    assert metadata["score"] == pytest.approx(found["best_score"])
    assert metadata["original_filename"] == Path(found["best_path"]).name
    assert metadata["ModelCheckpoint"]["monitor"] == "val/loss"
    assert metadata["ModelCheckpoint"]["save_top_k"] == 2
    assert at_end["best"]["files"] == [Path(found["best_path"]).name]
    assert at_end["v0"]["metadata"]["score"] > metadata["score"]
    # What was logged is the checkpoint's bytes, downloaded and checked.
    assert found["downloaded"] == found["best_sha"]

    # "all": every checkpoint as it was saved (three epochs, each better): three versions;
    # `best` moved with each, so the newest holds it.
    each = found["each"]
    assert [each[v]["version"] for v in ("v0", "v1", "v2")] == ["v0", "v1", "v2"]
    assert each["best"]["version"] == each["latest"]["version"] == "v2"
    assert each["v0"]["aliases"] == each["v1"]["aliases"] == []
    scores = [each[v]["metadata"]["score"] for v in ("v0", "v1", "v2")]
    assert scores == sorted(scores, reverse=True)
