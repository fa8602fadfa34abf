"""Media from every kind of process: DataLoader workers (fork and spawn), fork children, a
process that exits right after logging, and the queue's cap; each in a real interpreter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import only_run, run_script

DATALOADER = """
import numpy as np
import torch
import tether
from torch.utils.data import DataLoader

class Dataset(torch.utils.data.Dataset):
    def __init__(self, run):
        self.run = run  # forked with the worker, or unpickled (and attached) in a spawned one
    def __len__(self):
        return 4
    def __getitem__(self, index):
        self.run.log({"sample": tether.Image(np.full((4, 5), index * 10, dtype=np.uint8))},
                     step=index)
        return index

if __name__ == "__main__":
    run = tether.init(dir=".", mode="offline")
    loader = DataLoader(Dataset(run), num_workers=2, multiprocessing_context="%s")
    assert sorted(int(x) for x in loader) == [0, 1, 2, 3]
    run.finish()
"""


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataloader_workers_log_images_the_main_process_reads(run_dir: Path, context: str) -> None:
    result = run_script(run_dir, DATALOADER % context, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    items = only_run(run_dir).media("sample")
    assert [item.step for item in items] == [0, 1, 2, 3]
    assert {item.writer for item in items} <= {"worker0", "worker1"}
    for item in items:
        assert (np.asarray(item.to_pil()) == item.step * 10).all()


def test_fork_children_log_their_own_media(run_dir: Path) -> None:
    result = run_script(
        run_dir,
        """
        import multiprocessing, os
        import numpy as np
        import tether

        def child(tag):
            tether.log({"img": tether.Image(np.full((3, 3), tag, dtype=np.uint8))}, step=tag)

        run = tether.init(dir=".", mode="offline")
        run.log({"img": tether.Image(np.zeros((3, 3), dtype=np.uint8))}, step=0)
        pid = os.fork()
        if pid == 0:  # a raw fork child that leaves through os._exit: nothing else flushes it
            child(1)
            os._exit(0)
        os.waitpid(pid, 0)
        process = multiprocessing.get_context("fork").Process(target=child, args=(2,))
        process.start()
        process.join(60)
        run.finish()
        """,
        timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    items = only_run(run_dir).media("img")
    assert [(item.step, item.writer == "main") for item in items] == [
        (0, True),
        (1, False),
        (2, False),
    ]
    assert [int(np.asarray(item.to_pil())[0, 0]) for item in items] == [0, 1, 2]


def test_a_process_that_exits_right_after_logging_loses_nothing(run_dir: Path) -> None:
    result = run_script(
        run_dir,
        """
        import multiprocessing
        import numpy as np
        import tether

        def spawned(run):
            run.log({"child": [tether.Image(np.full((64, 64, 3), i, dtype=np.uint8))
                               for i in range(10)]})

        if __name__ == "__main__":
            run = tether.init(dir=".", mode="offline")
            process = multiprocessing.get_context("spawn").Process(target=spawned, args=(run,))
            process.start()
            process.join(60)
            for i in range(30):
                run.log({"img": tether.Image(np.full((64, 64, 3), i, dtype=np.uint8)),
                         "t": tether.Table(columns=["i"], rows=[[i]])})
            # no finish(): the interpreter exits at once, and atexit ends the run
        """,
        timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    data = only_run(run_dir)
    assert data.state == "finished"
    assert [item.step for item in data.media("img")] == list(range(30))
    assert len(data.media("t")) == 30
    assert [item.index for item in data.media("child")] == list(range(10))


def test_past_the_queue_cap_media_are_dropped_and_counted(run_dir: Path) -> None:
    result = run_script(
        run_dir,
        """
        import numpy as np
        import tether

        run = tether.init(dir=".", mode="offline")
        big = np.zeros((1200, 1000), dtype=np.uint8)  # 1.2 MB: over the 1 MiB cap by itself
        run.log({"big": tether.Image(big), "small": tether.Image(big[:10])})
        rows = [tether.Image(np.full((512, 512), i, dtype=np.uint8)) for i in range(40)]
        for image in rows:  # 256 KiB each, logged faster than they are encoded
            run.log({"many": image})
        run.finish()
        """,
        env={"TETHER_MEDIA_QUEUE_BYTES": "1048576"},
        timeout=120,
    )
    assert "TetherWarning" in result.stderr and "TETHER_MEDIA_QUEUE_BYTES" in result.stderr
    data = only_run(run_dir)
    assert data.media("big") == [] and len(data.media("small")) == 1
    stored = len(data.media("many"))
    dropped = data.summary["_tether/media_dropped/main"]
    assert dropped["queue_full"] == 1 + 40 - stored and dropped["failed"] == 0
    assert data.history().empty  # media alone make no row


def test_a_run_without_media_imports_none_of_it(run_dir: Path) -> None:
    result = run_script(
        run_dir,
        """
        import sys
        import tether

        with tether.init(dir=".", mode="offline") as run:
            run.log({"loss": 0.5})
        tether.load_run(run.dir).summary
        print(sorted(m for m in sys.modules if m.startswith(("tether.media", "PIL"))))
        run = tether.init(dir=".", mode="offline")
        run.log({"text": tether.Text("x")})
        print("PIL" in sys.modules, "tether.media.queue" in sys.modules)
        """,
        timeout=60,
    )
    assert result.stdout.splitlines() == ["[]", "True True"]


def test_the_flusher_imports_nothing_while_encoding_media(run_dir: Path) -> None:
    # A module first imported on the flusher thread holds its import lock while it loads; a
    # fork() by the training thread just then leaves that lock held forever in the child,
    # whose own flusher then hung on the same import (a fork child's blob write waited on
    # `import hashlib` under load). encode.prepare() imports on the logging thread instead.
    result = run_script(
        run_dir,
        """
        import sys, threading, time
        import numpy as np
        import tether

        seen = []

        class Watch:
            def find_spec(self, name, path=None, target=None):
                if threading.current_thread().name == "tether-flusher":
                    seen.append((threading.current_thread().name, name))
                return None

        sys.meta_path.insert(0, Watch())
        run = tether.init(dir=".", mode="offline", console="off", system=False)
        run.log({
            "img": tether.Image(np.zeros((8, 8, 3), dtype=np.uint8)),
            "jpeg": tether.Image(np.zeros((300, 300, 3), dtype=np.uint8), format="jpeg"),
            "hist": tether.Histogram(np.arange(100.0)),
            "table": tether.Table(columns=["a"], rows=[[1], [2]]),
            "text": tether.Text("**hi**", format="markdown"),
        }, step=0)
        # The flusher encodes them (not this thread: no flush() here) and writes their blobs.
        deadline = time.monotonic() + 50
        while len(list((run.dir / "blobs").glob("*"))) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        run.finish()
        print(seen)
        print("hashlib" in sys.modules)
        """,
        timeout=60,
    )
    assert result.stdout.split("\n")[:2] == ["[]", "True"]
