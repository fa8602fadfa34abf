"""fastai's TetherCallback(log_model=True) with SaveModelCallback: the saved model becomes an
artifact version a later run uses and downloads; without SaveModelCallback it says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_script

pytest.importorskip("fastai")

TRAINING = """
import hashlib, json, warnings
from pathlib import Path
import torch
from fastai.basics import *
from fastai.callback.tracker import SaveModelCallback

import tether
from tether.integrations.fastai import TetherCallback


def data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(48, 4, generator=g)
    pairs = list(zip(x, x.sum(1, keepdim=True)))
    return DataLoaders.from_dsets(pairs[:32], pairs[32:], bs=8, device="cpu")


class Lose(Callback):
    # Between SaveModelCallback's end of fit and the model's logging: the file is gone.
    order = SaveModelCallback.order + 0.5

    def after_fit(self):
        Path(self.learn.save_model.last_saved_path).unlink()


def model():
    torch.manual_seed(0)
    return torch.nn.Linear(4, 1)


if __name__ == "__main__":
    found = {}
    for bad in ({"log_model": "best"}, {"model_name": "a/b"}):
        try:
            TetherCallback(**bad)
        except ValueError as exc:
            found.setdefault("bad", []).append(str(exc))
    bare = Learner(data(), model(), loss_func=MSELossFlat(), cbs=[TetherCallback(
        project="tiny", dir=".", name="bare", log_model=True)])
    try:
        bare.fit(1)
    except ValueError as exc:
        found["refused"] = str(exc)
    lost = TetherCallback(project="tiny", dir=".", name="lost", log_model=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Learner(data(), model(), loss_func=MSELossFlat(), path="lost",
                cbs=[SaveModelCallback(), Lose(), lost]).fit(1)
    found["warned"] = [str(w.message) for w in caught if "not logged" in str(w.message)]
    try:
        tether.init(project="tiny", dir=".", name="probe").use_artifact(
            f"model-{lost.tether_run.id}:latest")
    except ValueError as exc:
        found["lost_lookup"] = str(exc)
    callback = TetherCallback(project="tiny", dir=".", name="saved", log_model=True)
    saver = SaveModelCallback()
    learn = Learner(data(), model(), loss_func=MSELossFlat(), metrics=[mae], path=".",
                    cbs=[saver, callback])
    learn.fit(2, lr=0.05)
    found["best"] = float(saver.best)
    found["saved_sha"] = hashlib.sha256(saver.last_saved_path.read_bytes()).hexdigest()
    names = [type(cb).__name__ for cb in learn.cbs]
    found["helpers_left"] = [name for name in names if "LogSaved" in name]
    consumer = tether.init(project="tiny", dir=".", name="consumer")
    artifact = consumer.use_artifact(f"model-{callback.tether_run.id}:best")
    found["artifact"] = {"version": artifact.version, "aliases": sorted(artifact.aliases),
                         "metadata": artifact.metadata, "files": [f.path for f in artifact.files]}
    folder = artifact.download(root="downloaded")
    found["downloaded_sha"] = hashlib.sha256((folder / "model.pth").read_bytes()).hexdigest()
    consumer.finish()
    print("FOUND", json.dumps(found))
"""


def test_log_model_with_save_model_callback(run_dir: Path) -> None:
    result = run_script(run_dir, TRAINING, timeout=240)
    line = next(x for x in result.stdout.splitlines() if x.startswith("FOUND "))
    found = json.loads(line.removeprefix("FOUND "))
    assert "SaveModelCallback" in found["refused"] and "log_model=False" in found["refused"]
    bad_value, bad_name = found["bad"]
    assert "log_model='best'; pass one of False, True" in bad_value
    assert "model_name='a/b': artifact name 'a/b' is not accepted" in bad_name
    # A model that cannot be logged (its file gone) is one warning; the fit ends as usual.
    (warned,) = found["warned"]
    assert "fastai: the model at " in warned and "training goes on" in warned
    assert "lost_lookup" in found  # no version was made
    artifact = found["artifact"]
    assert artifact["version"] == "v0"
    assert artifact["aliases"] == ["best", "latest"]
    assert artifact["files"] == ["model.pth"]
    metadata = artifact["metadata"]
    assert metadata["monitor"] == "valid_loss"
    assert metadata["score"] == pytest.approx(found["best"])
    assert {"valid_loss", "mae", "train_loss"} <= set(metadata)
    assert found["downloaded_sha"] == found["saved_sha"]
    assert found["helpers_left"] == []  # the helper left the learner after the fit
