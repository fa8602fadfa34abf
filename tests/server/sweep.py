"""A small sweep for the workspace tests: real tether runs (offline), uploaded segment by
segment through the server's API as the uploader sends them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

import tether
from tether.store import format as fmt

LRS = (0.001, 0.01, 0.1)
SEEDS = (1, 2, 3)
STEPS = 40


def loss(lr: float, seed: int, step: int) -> float:
    return lr * 100 / (step + 1) + seed * 0.01


def accuracy(lr: float, seed: int) -> float:
    return round(0.5 + lr * 4 + seed * 0.01, 6)


@dataclass(frozen=True)
class SweepRun:
    id: str
    lr: float
    seed: int


def make_sweep(directory: Path, http: httpx.Client, project: str) -> list[SweepRun]:
    """Nine runs (3 learning rates x 3 seeds) in group ``sweep``, the seed-1 runs tagged
    ``baseline``; each logs ``train/loss`` for ``STEPS`` steps and ``best_acc``."""
    made = []
    for lr in LRS:
        for seed in SEEDS:
            with tether.init(
                project=project,
                dir=directory,
                mode="offline",
                console="off",
                system=False,
                group="sweep",
                tags=["baseline"] if seed == 1 else [],
                name=f"lr{lr}-s{seed}",
                config={"lr": lr, "seed": seed, "opt": "adam" if seed < 3 else "sgd"},
            ) as run:
                for step in range(STEPS):
                    run.log({"train/loss": loss(lr, seed, step)}, step=step)
                run.summary["best_acc"] = accuracy(lr, seed)
            upload(http, run, project)
            made.append(SweepRun(run.id, lr, seed))
    return made


def upload(http: httpx.Client, run: tether.Run, project: str) -> None:
    for path in sorted((run.dir / fmt.SEGMENTS_DIR).iterdir()):
        writer = path.stem.rsplit("-", 1)[1]
        answer = http.put(
            f"/api/v1/projects/{project}/runs/{run.id}/segments/{writer}",
            params={"offset": 0},
            content=path.read_bytes(),
        )
        answer.raise_for_status()
