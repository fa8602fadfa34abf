"""A small tracked training that logs and prints from several processes.

* the main process trains a tiny regression model and logs ``train/loss``, and each epoch a
  histogram of its weights, a scatter image of predictions against targets and a table of a
  few predictions (issue 14's media);
* two DataLoader workers (forked) print as they start and load;
* two DDP ranks (``torch.multiprocessing.spawn``, gloo on CPU) each train a few steps and log
  ``ddp/loss`` into the same run, receiving the ``Run`` object as an argument.

Run: ``python examples/multiprocess_training.py --dir ./demo-runs``, then
``tether show latest --dir ./demo-runs``.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import DataLoader, Dataset

import tether


class Points(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    def __init__(self, size: int) -> None:
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(size, 4, generator=generator)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if index % 64 == 0:
            print(f"loading sample {index}")
        return self.x[index], self.y[index]


def worker_init(worker_id: int) -> None:
    print(f"DataLoader worker {worker_id} ready (pid {os.getpid()})")


def train_main(run: tether.Run, epochs: int) -> None:
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    loader = DataLoader(Points(256), batch_size=32, num_workers=2, worker_init_fn=worker_init)
    for epoch in range(epochs):
        for x, y in loader:
            loss = torch.nn.functional.mse_loss(model(x).squeeze(-1), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            run.log({"train/loss": loss, "train/epoch": epoch})
        print(f"epoch {epoch}: loss {loss.item():.4f}")
        log_epoch_media(run, model, epoch)
    run.summary["final_loss"] = loss.item()


def log_epoch_media(run: tether.Run, model: torch.nn.Module, epoch: int) -> None:
    """A histogram of the weights, a scatter image of predictions against targets and a table
    of the first predictions, at the epoch's last step."""
    data = Points(64)
    with torch.no_grad():
        predicted = model(data.x).squeeze(-1)
    canvas = torch.full((96, 96, 3), 255, dtype=torch.uint8)
    low, high = float(data.y.min()), float(data.y.max())
    scale = 95 / (high - low)
    for target, guess in zip(data.y.tolist(), predicted.tolist(), strict=True):
        col = round((target - low) * scale)
        row = 95 - min(95, max(0, round((guess - low) * scale)))
        canvas[max(0, row - 1) : row + 2, max(0, col - 1) : col + 2] = torch.tensor([200, 40, 40])
    rows = [
        [i, round(t, 3), round(p, 3), round(abs(t - p), 3)]
        for i, (t, p) in enumerate(zip(data.y[:8].tolist(), predicted[:8].tolist(), strict=True))
    ]
    run.log(
        {
            "weights": tether.Histogram(model.weight, bins=16),
            "predictions": tether.Image(canvas, caption=f"epoch {epoch}: prediction vs target"),
            "samples": tether.Table(columns=["index", "target", "prediction", "error"], rows=rows),
        }
    )


def ddp_rank(rank: int, world_size: int, port: int, run: tether.Run) -> None:
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size
    )
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    data = Points(64)
    for step in range(20):
        loss = torch.nn.functional.mse_loss(model(data.x).squeeze(-1), data.y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        run.log({"ddp/loss": loss.item()}, step=step)
    print(f"rank {rank} done, loss {loss.item():.4f}")
    print(f"rank {rank} says hello on stderr", file=sys.stderr)
    dist.destroy_process_group()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default=".", help="where runs are stored (under DIR/tether)")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    config = {"lr": 0.05, "batch_size": 32, "epochs": args.epochs, "ddp_world_size": 2}
    with tether.init(project="demo", config=config, dir=args.dir) as run:
        print(f"run {run.name} ({run.id}) in {run.dir}")
        train_main(run, args.epochs)
        mp.spawn(ddp_rank, args=(2, free_port(), run), nprocs=2, join=True)
        print("all processes done")


if __name__ == "__main__":
    main()
