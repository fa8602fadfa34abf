"""Every process of a training job writes to its run (the seeds' scenarios, for real)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tether
from tether.store import layout

from .conftest import only_run, run_script

DATALOADER_SEED = """
{first}
import os
import torch
from torch.utils.data import DataLoader
{second}

def worker_init_fn(worker_id):
    print("hello from worker:" + str(worker_id))

class Dataset(torch.utils.data.Dataset):
    def __len__(self):
        return 6
    def __getitem__(self, index):
        print(f"getitem {{index}} in pid {{os.getpid()}}")
        return index

if __name__ == "__main__":
    run = tether.init(project="seed3", dir=".")
    loader = DataLoader(Dataset(), num_workers=2, batch_size=1, worker_init_fn=worker_init_fn,
                        persistent_workers={persistent}, multiprocessing_context="{context}")
    for epoch in range(2):
        for data in loader:
            run.log({{"index": int(data)}})
    print("loop finished")
    run.finish()
"""


@pytest.mark.parametrize(
    ("order", "context", "persistent"),
    [
        ("ipdb-first", "fork", False),
        ("tether-first", "fork", False),
        ("ipdb-first", "fork", True),
        # Spawned workers get no Run and never call init(): they join because the process
        # was started while the run captured output (tether.process.spawned).
        ("ipdb-first", "spawn", False),
        ("tether-first", "spawn", True),
    ],
)
def test_dataloader_workers_print_into_the_run(
    run_dir: Path, order: str, context: str, persistent: bool
) -> None:
    imports = ("import ipdb", "import tether")
    first, second = imports if order == "ipdb-first" else imports[::-1]
    result = run_script(
        run_dir,
        DATALOADER_SEED.format(first=first, second=second, context=context, persistent=persistent),
    )
    assert "loop finished" in result.stdout
    assert "hello from worker:0" in result.stdout  # still reaches the terminal
    assert "Traceback" not in result.stderr
    data = only_run(run_dir)
    lines = {(line.writer, line.text) for line in data.console_lines()}
    assert ("worker0", "hello from worker:0") in lines
    assert ("worker1", "hello from worker:1") in lines
    getitems = [line for line in data.console_lines() if line.text.startswith("getitem")]
    assert len(getitems) == 12
    assert {line.writer for line in getitems} <= {"worker0", "worker1"}
    assert ("main", "loop finished") in lines
    assert len(data.rows()) == 12
    assert data.state == "finished"


def test_spawn_context_dataloader_workers_attach_through_the_dataset(run_dir: Path) -> None:
    result = run_script(
        run_dir,
        """
        import tether, torch
        from torch.utils.data import DataLoader

        class Dataset(torch.utils.data.Dataset):
            def __init__(self, run):
                self.run = run  # unpickled in each spawned worker: attaches it
            def __len__(self):
                return 4
            def __getitem__(self, index):
                print(f"spawned worker item {index}")
                self.run.log({"item": index})
                return index

        if __name__ == "__main__":
            run = tether.init(dir=".")
            loader = DataLoader(Dataset(run), num_workers=2, multiprocessing_context="spawn")
            assert sorted(int(x) for x in loader) == [0, 1, 2, 3]
            run.finish()
        """,
    )
    assert "Traceback" not in result.stderr
    data = only_run(run_dir)
    items = [line for line in data.console_lines() if line.text.startswith("spawned worker item")]
    assert len(items) == 4 and {line.writer for line in items} <= {"worker0", "worker1"}
    assert sorted(r["item"] for r in data.rows()) == [0, 1, 2, 3]


SPAWN_SEED = """
import logging, os, sys
import torch.distributed as dist
import torch.multiprocessing as mp
import tether

def fn(index, run, port):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=index,
                            world_size=8)
    log = logging.getLogger("seed")
    log.addHandler(logging.StreamHandler(sys.stderr))
    log.warning(f"rank {index}: global seed set")  # what Lightning's seed_everything does
    print(f"xla: {index} start train model")
    print(f"rank {index} to stderr", file=sys.stderr)
    if index == 0:
        for step in range(50):
            run.log({"loss": 1.0 / (step + 1)})  # through the Run handed as an argument
    else:
        child_run = tether.init()  # joins the parent's run through the environment
        assert child_run.id == run.id
        for step in range(50):
            child_run.log({f"rank{index}/loss": float(step)})
    dist.barrier()
    dist.destroy_process_group()

if __name__ == "__main__":
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run = tether.init(project="seed1", dir=".")
    mp.spawn(fn, args=(run, port), nprocs=8, join=True)
    print("spawn joined")
    run.finish()
"""


def test_spawned_ranks_print_and_log_labelled_by_rank(run_dir: Path) -> None:
    result = run_script(run_dir, SPAWN_SEED, timeout=240)
    assert "AssertionError" not in result.stderr and "Traceback" not in result.stderr
    data = only_run(run_dir)
    for rank in range(8):
        texts = {(line.stream, line.text) for line in data.console_lines(writer=f"rank{rank}")}
        assert ("stdout", f"xla: {rank} start train model") in texts
        assert ("stderr", f"rank {rank} to stderr") in texts
        assert ("stderr", f"rank {rank}: global seed set") in texts
    rows = data.rows()
    assert [r["loss"] for r in rows if "loss" in r] == [1.0 / (s + 1) for s in range(50)]
    assert {r["_writer"] for r in rows if "loss" in r} == {"rank0"}
    for rank in range(1, 8):
        mine = [r for r in rows if f"rank{rank}/loss" in r]
        assert [r["_step"] for r in mine] == list(range(50))
        assert {r["_writer"] for r in mine} == {f"rank{rank}"}
    assert ("main", "spawn joined") in {(line.writer, line.text) for line in data.console_lines()}
    assert data.state == "finished"


DDP_TRAINING = """
import os, sys
import torch
import torch.distributed as dist
import tether

def train(rank, world_size):
    run = tether.init(project="ddp", dir=os.environ["RUN_DIR"])
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    generator = torch.Generator().manual_seed(rank)
    for step in range(30):
        x = torch.randn(16, 4, generator=generator)
        loss = model(x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        run.log({"loss": loss.item()}, step=step)
    print(f"rank {rank} finished training")
    dist.barrier()
    run.finish()

def spawned(rank, world_size, port):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world_size)
    train(rank, world_size)
    dist.destroy_process_group()

if __name__ == "__main__":
    if sys.argv[1] == "torchrun":
        dist.init_process_group("gloo")
        train(dist.get_rank(), dist.get_world_size())
        dist.destroy_process_group()
    else:
        import socket
        import torch.multiprocessing as mp
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        parent = tether.init(project="ddp", dir=os.environ["RUN_DIR"])
        mp.spawn(spawned, args=(2, port), nprocs=2, join=True)
        parent.finish()
"""


@pytest.mark.parametrize("launcher", ["spawn", "torchrun"])
def test_ddp_ranks_train_and_log_into_one_run(run_dir: Path, launcher: str) -> None:
    script = run_dir / "ddp.py"
    script.write_text(DDP_TRAINING)
    if launcher == "torchrun":
        code = f"""
        import runpy, sys
        sys.argv = ["torchrun", "--standalone", "--nproc-per-node", "2", {str(script)!r},
                    "torchrun"]
        from torch.distributed.run import main
        main()
        """
    else:
        code = f"import runpy, sys\nsys.argv = [{str(script)!r}, 'spawn']\n"
        code += f"runpy.run_path({str(script)!r}, run_name='__main__')\n"
    result = run_script(run_dir, code, timeout=240, env={"RUN_DIR": str(run_dir)})
    assert "Traceback" not in result.stderr, result.stderr
    data = only_run(run_dir)
    for rank in (0, 1):
        rows = [r for r in data.rows() if r["_writer"] == f"rank{rank}"]
        assert [r["_step"] for r in rows] == list(range(30)), (rank, data.writers)
        lines = [line.text for line in data.console_lines() if line.writer == f"rank{rank}"]
        assert f"rank {rank} finished training" in lines
    assert data.state == "finished"


def test_sigkilled_child_does_not_break_the_run(run_dir: Path) -> None:
    run_script(
        run_dir,
        """
        import multiprocessing as mp, os, signal, time
        import tether

        def child(run, ready):
            for i in range(500):
                run.log({"child": i})
            tether.flush()
            ready.set()
            for i in range(500, 10**9):
                run.log({"child": i})
                print(f"child line {i}")
                time.sleep(0.001)

        if __name__ == "__main__":
            run = tether.init(dir=".")
            ctx = mp.get_context("fork")
            ready = ctx.Event()
            proc = ctx.Process(target=child, args=(run, ready))
            proc.start()
            assert ready.wait(30)
            time.sleep(0.2)
            os.kill(proc.pid, signal.SIGKILL)
            proc.join()
            for i in range(100):
                run.log({"parent": i})
            run.finish()
        """,
    )
    data = only_run(run_dir)
    child_rows = [r["child"] for r in data.rows() if "child" in r]
    assert child_rows[:500] == list(range(500))
    assert child_rows == list(range(len(child_rows)))  # a prefix: nothing garbled
    assert [r["parent"] for r in data.rows() if "parent" in r] == list(range(100))
    assert data.state == "finished"


def test_finish_waits_for_children_only_a_bounded_time(run_dir: Path) -> None:
    result = run_script(
        run_dir,
        """
        import multiprocessing as mp, time
        import tether

        def child(run):
            time.sleep(1.5)  # still running when the parent finishes
            run.log({"late": 1})

        if __name__ == "__main__":
            run = tether.init(dir=".")
            proc = mp.get_context("fork").Process(target=child, args=(run,))
            proc.start()
            time.sleep(0.2)
            start = time.monotonic()
            run.finish()
            print(f"finish took {time.monotonic() - start:.2f}")
            proc.join()
        """,
        env={"TETHER_FINISH_GRACE_S": "0.5"},
    )
    took = float(result.stdout.split("finish took ")[1].split()[0])
    assert took < 1.4  # bounded by the grace time, not by the child
    data = only_run(run_dir)
    assert data.state == "finished"
    assert [r["late"] for r in data.rows()] == [1]  # written after finish, still there


def test_pool_and_process_pool_executor_children_log(run_dir: Path) -> None:
    run_script(
        run_dir,
        """
        import concurrent.futures as cf, multiprocessing as mp
        import tether

        def work(n):
            tether.init().log({"n": n})  # join the parent's run from a pool worker
            print(f"work {n}")
            return n

        if __name__ == "__main__":
            run = tether.init(dir=".")
            with cf.ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
                assert sorted(pool.map(work, range(6))) == list(range(6))
            with mp.get_context("forkserver").Pool(2) as pool:
                assert sorted(pool.map(work, range(6, 12))) == list(range(6, 12))
            run.finish()
        """,
    )
    data = only_run(run_dir)
    assert sorted(r["n"] for r in data.rows()) == list(range(12))
    lines = data.console_lines()
    assert sorted(line.text for line in lines if line.text.startswith("work ")) == sorted(
        f"work {n}" for n in range(12)
    )


@pytest.mark.skipif(sys.platform != "linux", reason="fd capture test uses Linux fds")
def test_fd_capture_records_c_level_and_subprocess_output(run_dir: Path) -> None:
    result = run_script(
        run_dir,
        """
        import os, subprocess, sys
        import tether
        run = tether.init(dir=".", console="fd")
        print("python print")
        os.write(1, b"raw fd write\\n")
        subprocess.run(["echo", "from a subprocess"], check=True)
        subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('child err\\\\n')"])
        run.finish()
        print("after finish")
        """,
    )
    for text in ("python print", "raw fd write", "from a subprocess", "after finish"):
        assert text in result.stdout
    data = only_run(run_dir)
    texts = {(line.stream, line.text) for line in data.console_lines()}
    assert {
        ("stdout", "python print"),
        ("stdout", "raw fd write"),
        ("stdout", "from a subprocess"),
        ("stderr", "child err"),
    } <= texts
    assert ("stdout", "after finish") not in texts
    assert os.environ.get("TETHER_CAPTURE_PIPES") is None


def test_group_starts_one_run_per_process(run_dir: Path) -> None:
    run_script(
        run_dir,
        """
        import multiprocessing as mp
        import tether

        def child(index):
            with tether.init(group="sweep", name=f"member-{index}") as run:
                run.log({"index": index})

        if __name__ == "__main__":
            parent = tether.init(group="sweep", name="member-main")
            procs = [mp.get_context("spawn").Process(target=child, args=(i,)) for i in range(2)]
            for proc in procs:
                proc.start()
            for proc in procs:
                proc.join(60)
            parent.finish()
        """,
    )
    runs = [tether.load_run(path) for path in layout.list_run_dirs(run_dir)]
    assert sorted(r.name for r in runs) == ["member-0", "member-1", "member-main"]
    assert {r.group for r in runs} == {"sweep"} and len({r.id for r in runs}) == 3
    assert sorted(r.rows()[0]["index"] for r in runs if r.rows()) == [0, 1]


def test_console_off_and_env_switch(run_dir: Path) -> None:
    code = """
    import sys, tether
    real = sys.stdout
    run = tether.init(dir=".")
    assert (sys.stdout is real) == (sys.argv[1] == "off")
    print("a line")
    run.finish()
    """
    run_script(run_dir, code, env={"TETHER_CONSOLE": "off"}, args=["off"])
    assert only_run(run_dir).console_lines() == []


def test_logs_follow_tails_a_live_run(run_dir: Path) -> None:
    script = run_dir / "live.py"
    script.write_text(
        "import time, tether\n"
        "run = tether.init(dir='.')\n"
        "for i in range(5):\n"
        "    print(f'live {i}', flush=True)\n"
        "    time.sleep(0.2)\n"
        "run.finish()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    trainer = subprocess.Popen([sys.executable, str(script)], cwd=run_dir, env=env)
    try:
        deadline = time.monotonic() + 30
        while not (run_dir / "tether").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        follow = subprocess.run(
            [sys.executable, "-m", "tether.cli", "logs", "latest", "--follow", "--no-prefix"],
            cwd=run_dir,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    finally:
        trainer.wait(timeout=60)
    assert follow.stdout.split() == [word for i in range(5) for word in ("live", str(i))]


def test_fork_child_that_sets_up_its_process_group_is_labelled_by_rank(run_dir: Path) -> None:
    run_script(
        run_dir,
        """
        import os, socket, time
        import torch.distributed as dist
        import tether

        run = tether.init(dir=".")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if os.fork() == 0:  # Lightning's ddp_fork: the child becomes a rank itself
            dist.init_process_group(
                "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1
            )
            for i in range(5):
                run.log({"x": i})
                time.sleep(0.3)
            os._exit(0)
        os.wait()
        run.finish()
        """,
    )
    labels = sorted(w.label for w in only_run(run_dir).writers)
    assert labels == ["main", "rank0"]


def test_spawned_pool_workers_that_only_print_are_captured(run_dir: Path) -> None:
    result = run_script(
        run_dir,
        """
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor
        import tether

        def square(x):
            print(f"pool saw {x}")
            return x * x

        if __name__ == "__main__":
            run = tether.init(dir=".")
            with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
                assert list(pool.map(square, range(4))) == [0, 1, 4, 9]
            run.finish()
            # After finish, a new process joins nothing (and still works).
            proc = mp.get_context("spawn").Process(target=print, args=("after finish",))
            proc.start()
            proc.join()
            assert proc.exitcode == 0
        """,
    )
    assert "after finish" in result.stdout and "Traceback" not in result.stderr
    data = only_run(run_dir)
    seen = sorted(line.text for line in data.console_lines() if line.text.startswith("pool saw"))
    assert seen == [f"pool saw {x}" for x in range(4)]
    lines = data.console_lines()
    assert all(line.writer != "main" for line in lines if line.text.startswith("pool"))
    assert "after finish" not in {line.text for line in data.console_lines()}


TORCH_START_PROCESSES = """
import sys
import torch.multiprocessing as mp
import tether

def fn(index, run):
    print(f"hello from {index}")
    run.log({"index": index})

if __name__ == "__main__":
    run = tether.init(dir=".")
    mp.start_processes(fn, args=(run,), nprocs=3, join=True, start_method=sys.argv[1])
    run.finish()
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_torch_multiprocessing_children_are_labelled_by_their_index(
    run_dir: Path, method: str
) -> None:
    """Ranks started by torch.multiprocessing without a process group (a notebook's
    start_processes(..., "fork")) are rank0..rank2, not pid12345."""
    run_script(run_dir, TORCH_START_PROCESSES, args=[method], timeout=240)
    data = only_run(run_dir)
    by_writer = {row["_writer"]: row["index"] for row in data.rows()}
    assert by_writer == {f"rank{i}": i for i in range(3)}, by_writer
    lines = {(line.writer, line.text) for line in data.console_lines()}
    assert {(f"rank{i}", f"hello from {i}") for i in range(3)} <= lines
