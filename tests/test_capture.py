"""Console capture: what it records, and that everything that looks at sys.stdout still works."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios
import warnings
from pathlib import Path

import pytest

import tether
from tether.capture.lines import MAX_LINE_CHARS, LineAssembler
from tether.capture.streams import stop_copying, tee_of, tee_stream

from .conftest import only_run, run_script, write_script


def _lines(chunks: list[str]) -> list[str]:
    out: list[str] = []
    assembler = LineAssembler(lambda lines, when: out.extend(lines))
    for chunk in chunks:
        assembler.feed(chunk)
    assembler.flush_partial()
    return out


def test_carriage_returns_fold_like_a_terminal() -> None:
    bars = [f"\r{p:3d}%|{'#' * (p // 10):<10}|" for p in range(0, 101, 5)]
    assert _lines(["start\n", *bars, "\n", "done\n"]) == ["start", "100%|##########|", "done"]
    assert _lines(["abcdef\rXY\n"]) == ["XYcdef"]
    assert _lines(["windows\r\n", "line\r\n"]) == ["windows", "line"]
    assert _lines(["a", "b", "\nc"]) == ["ab", "c"]
    assert _lines(["\x1b[31mred\x1b[0m\n"]) == ["\x1b[31mred\x1b[0m"]
    assert _lines(["one\ntwo\nthr", "ee\n\nfour"]) == ["one", "two", "three", "", "four"]
    assert _lines(["x" * (MAX_LINE_CHARS + 5) + "\nend\n"]) == [
        "x" * MAX_LINE_CHARS,
        "x" * 5,
        "end",
    ]


def test_lines_of_one_chunk_are_emitted_together_with_its_time() -> None:
    emitted: list[tuple[list[str], float]] = []
    assembler = LineAssembler(lambda lines, when: emitted.append((lines, when)))
    assembler.feed_many([(1.0, "a\nb\nc"), (2.0, "d\n"), (3.0, "e"), (4.0, "\rE\n")])
    assert emitted == [(["a", "b"], 1.0), (["cd"], 2.0), (["E"], 4.0)]


def test_print_is_recorded_and_still_reaches_the_stream(run_dir: Path) -> None:
    real = sys.stdout
    run = tether.init(dir=run_dir)
    assert sys.stdout is not real
    print("to stdout")
    print("to stderr", file=sys.stderr)
    sys.stdout.writelines(["a\n", "b\n"])
    run.finish()
    assert sys.stdout is real
    console = [(c.stream, c.text) for c in tether.load_run(run.dir).console_lines()]
    assert console == [
        ("stdout", "to stdout"),
        ("stderr", "to stderr"),
        ("stdout", "a"),
        ("stdout", "b"),
    ]


def test_proxy_behaves_like_the_stream_it_wraps(run_dir: Path) -> None:
    real = sys.stdout
    with tether.init(dir=run_dir):
        proxy = sys.stdout
        assert isinstance(proxy, io.TextIOBase)
        for attribute in ("encoding", "errors", "line_buffering", "buffer", "closed", "name"):
            assert getattr(proxy, attribute) == getattr(real, attribute), attribute
        assert proxy.isatty() == real.isatty()
        assert proxy.writable()
        proxy.flush()
        real.tether_test_marker = 1  # type: ignore[attr-defined]
        assert proxy.tether_test_marker == 1  # type: ignore[attr-defined]  # falls through
        del real.tether_test_marker  # type: ignore[attr-defined]
        assert proxy.fileno() == real.fileno()


def test_over_a_file_our_stream_is_a_text_wrapper_that_copies_each_flushed_chunk(
    tmp_path: Path,
) -> None:
    raw = io.FileIO(tmp_path / "out.txt", "w")
    real = io.TextIOWrapper(io.BufferedWriter(raw), encoding="latin-1", errors="replace")
    real.mode = "w"  # type: ignore[misc]  # as open() sets it
    sink: list[tuple[float, object]] = []
    ours = tee_stream(real, sink)
    assert type(ours) is io.TextIOWrapper  # print() stays in C
    for attribute in ("encoding", "errors", "line_buffering", "write_through", "name", "mode"):
        assert getattr(ours, attribute) == getattr(real, attribute), attribute
    assert ours.fileno() == real.fileno() and ours.isatty() is False
    for i in range(100):
        print(f"line {i} é", file=ours)
    assert sink == []  # buffered, as the real stream would be
    ours.flush()  # as with any TextIOWrapper, before writing to .buffer
    ours.buffer.write(b"raw bytes\n")  # bytes reach the file too, and are copied
    ours.flush()
    text = (tmp_path / "out.txt").read_bytes().decode("latin-1")
    assert text == "".join(f"line {i} é\n" for i in range(100)) + "raw bytes\n"
    assert b"".join(chunk for _, chunk in sink).decode("latin-1") == text  # type: ignore[misc]
    assert len(sink) == 2
    ours.reconfigure(line_buffering=True)
    print("now line by line", file=ours)
    assert len(sink) == 3
    stop_copying(ours)
    print("after", file=ours)  # still reaches the file at once, and is no longer copied
    assert (tmp_path / "out.txt").read_text("latin-1").endswith("after\n") and len(sink) == 3


def test_finish_leaves_a_later_wrapper_in_place(run_dir: Path) -> None:
    real = sys.stdout

    class Wrapper(io.TextIOBase):
        def __init__(self, inner: object) -> None:
            self.inner = inner

        def write(self, text: str) -> int:
            return self.inner.write(text)  # type: ignore[attr-defined,no-any-return]

    run = tether.init(dir=run_dir)
    ours = sys.stdout
    theirs = Wrapper(ours)
    sys.stdout = theirs
    run.finish()
    assert sys.stdout is theirs  # not ripped out from under them
    print("after finish")  # still works, through our now pass-through proxy
    sys.stdout = real
    assert tee_of(ours).sink is None
    assert all(c.text != "after finish" for c in tether.load_run(run.dir).console_lines())


def test_nested_init_and_finish(run_dir: Path) -> None:
    real = sys.stdout
    outer = tether.init(dir=run_dir, name="outer")
    print("outer 1")
    inner = tether.init(dir=run_dir, name="inner")
    print("inner 1")
    inner.finish()
    print("outer 2")
    outer.finish()
    assert sys.stdout is real
    assert [c.text for c in tether.load_run(outer.dir).console_lines()] == ["outer 1", "outer 2"]
    assert [c.text for c in tether.load_run(inner.dir).console_lines()] == ["inner 1"]


def test_our_own_write_failure_never_reaches_the_caller(run_dir: Path) -> None:
    run = tether.init(dir=run_dir)
    run.log({"x": 1})
    assert run.flush()
    # The store breaks underneath us: the segment's descriptor now refuses writes (EBADF).
    read_only = os.open(os.devnull, os.O_RDONLY)
    os.dup2(read_only, run._writer._fd)
    os.close(read_only)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(100):
            run.log({"x": i})
            print("still printing")
        assert run.flush() is False  # said, not raised
    assert any(issubclass(w.category, tether.TetherWarning) for w in caught)
    run.finish()  # reopens the segment: the data waited in memory
    data = tether.load_run(run.dir)
    assert len(data.rows()) == 101 and data.state == "finished"
    assert data.writers[0].torn_bytes == 0


def test_a_deleted_run_directory_is_written_again(run_dir: Path) -> None:
    import shutil

    run = tether.init(dir=run_dir, console="off")
    run.log({"x": 0})
    assert run.flush()
    shutil.rmtree(run.dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(1, 10):
            run.log({"x": i})
        run.flush()
    run.finish()
    data = tether.load_run(run.dir)
    assert [r["x"] for r in data.rows()] == list(range(1, 10))
    assert data.state == "finished" and data.id == run.id


COMPAT = """
import faulthandler, logging, subprocess, sys
early = logging.StreamHandler()          # made before init(): holds the real stderr
logging.getLogger("early").addHandler(early)
{imports}
import tether
run = tether.init(dir=".")
{late_imports}
from prompt_toolkit.output.defaults import create_output
output = create_output()
print("prompt_toolkit output:", type(output).__name__, output.get_size().columns > 0)
from IPython.terminal.debugger import TerminalPdb
TerminalPdb()  # builds a prompt_toolkit session on our sys.stdout
faulthandler.enable()
faulthandler.dump_traceback(all_threads=False)
subprocess.run([sys.executable, "-c", "print('child inherits stdout')"], stdout=sys.stdout,
               stderr=sys.stderr, check=True)
logging.getLogger("early").warning("early handler works")
from tqdm import tqdm
for _ in tqdm(range(50), file=sys.stderr, mininterval=0, ascii=True):
    pass
import rich
from rich.console import Console
Console(force_terminal=True).print("[bold red]rich text[/]")
run.finish()
print("after finish")
"""


@pytest.mark.parametrize("order", ["ipdb-first", "ipdb-after-init"])
def test_capture_compatibility_on_a_terminal(run_dir: Path, order: str) -> None:
    imports, late = ("import ipdb", "") if order == "ipdb-first" else ("", "import ipdb")
    script = write_script(run_dir, COMPAT.format(imports=imports, late_imports=late))
    leader, follower = pty.openpty()
    # A fresh pty is 0x0; tqdm and prompt_toolkit size their output from it.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env["TERM"] = "xterm"
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=run_dir,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=120) == 0
    os.close(leader)
    screen = b"".join(chunks).decode(errors="replace")
    assert "prompt_toolkit output: Vt100_Output True" in screen
    assert "Traceback" not in screen.split("Current thread")[0]
    for text in ("child inherits stdout", "early handler works", "rich text", "after finish"):
        assert text in screen
    console = only_run(run_dir).console_lines()
    texts = [line.text for line in console]
    assert "prompt_toolkit output: Vt100_Output True" in texts
    bars = [t for t in texts if "it/s]" in t or "50/50" in t]
    assert len(bars) == 1 and "100%" in bars[0]  # the bar, folded to its last state
    assert any("\x1b[" in t and "rich text" in t for t in texts)  # colours kept
    assert "after finish" not in texts


def test_fork_while_another_thread_prints_never_hangs(run_dir: Path) -> None:
    result = run_script(
        run_dir,
        """
        import multiprocessing as mp, sys, threading
        import tether

        def chatter(stop):
            while not stop.is_set():
                print("thread line")
                sys.stderr.write("partial without newline ")

        def child(i):
            print(f"child {i}")

        if __name__ == "__main__":
            run = tether.init(dir=".")
            stop = threading.Event()
            thread = threading.Thread(target=chatter, args=(stop,))
            thread.start()
            ctx = mp.get_context("fork")
            for i in range(30):
                proc = ctx.Process(target=child, args=(i,))
                proc.start()
                proc.join(20)
                assert proc.exitcode == 0, (i, proc.exitcode)
            stop.set()
            thread.join()
            run.finish()
        """,
        timeout=120,
    )
    assert result.returncode == 0
    texts = {line.text for line in only_run(run_dir).console_lines()}
    assert {f"child {i}" for i in range(30)} <= texts


def test_block_buffered_stdout_is_captured_whole_in_order_and_live(run_dir: Path) -> None:
    # stdout to a pipe without PYTHONUNBUFFERED: Python buffers it, and so do we.
    done = run_script(
        run_dir,
        """
        import os, sys, time
        import tether
        run = tether.init(console="wrap")
        assert type(sys.stdout).__name__ == "TextIOWrapper" and not sys.stdout.line_buffering
        for i in range(3000):
            print(f"line {i}")
        print("to stderr", file=sys.stderr)
        print("live line")  # in a buffer, but on disk within a flush interval or so
        deadline = time.time() + 10
        while not any(c.text == "live line" for c in tether.load_run(run.dir).console_lines()):
            assert time.time() < deadline, "a buffered line never reached the run"
            time.sleep(0.02)
        print("before fork")
        pid = os.fork()  # our streams flush first: nothing printed twice
        if pid == 0:
            print("child line")
            os._exit(0)
        os.waitpid(pid, 0)
        run.finish()
        """,
        env={"PYTHONUNBUFFERED": ""},
    )
    expected = [f"line {i}" for i in range(3000)] + ["live line", "before fork", "child line"]
    assert sorted(done.stdout.splitlines()) == sorted(expected)
    assert done.stdout.splitlines()[:3001] == expected[:3001]
    data = only_run(run_dir)
    stdout = [(c.writer, c.text) for c in data.console_lines() if c.stream == "stdout"]
    assert [text for writer, text in stdout if writer == "main"] == expected[:-1]
    assert [text for writer, text in stdout if writer != "main"] == ["child line"]
    assert [c.text for c in data.console_lines() if c.stream == "stderr"] == ["to stderr"]
