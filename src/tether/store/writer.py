"""One writer per process: an in-memory buffer, a flusher thread, and one segment file.

``log_row()`` and ``append()`` only append to a list and return; a flusher
thread (started on the first record) frames and writes the buffer about every
``FLUSH_INTERVAL_S``. ``flush()`` writes everything appended so far, from the calling thread.

The flusher is deliberately *not* a daemon thread: ``multiprocessing`` children (DataLoader
workers, pool workers, spawned ranks) leave through ``os._exit`` and skip ``atexit``, but they
join non-daemon threads first. The flusher notices that the main thread has ended, writes
out the buffer, and ends, so those children lose nothing and never hang.

Keys are written once per segment: a row's key tuple becomes a *schema* (a ``K_KEYS``
record) the first time it is seen, and the rows of one drain that share it are written as
one ``K_ROWS`` block (``tether.store.rows``). Rows are queued apart from other records, and
a drain writes its rows before its other records (each record carries its own time).

A failed write (disk full, file system gone) is truncated back to the last whole frame and
its frames stay in memory to be written by the next drain, so a reader never sees a torn
frame in the middle of a file and nothing logged is lost while the process lives. Memory is
bounded: past ``MAX_UNWRITTEN_BYTES`` the queued frames are compacted to what keeps the run
readable (layouts, config, summary, labels, the final state) and the rows and console lines
in them are counted as lost. At ``close()``, if the disk is still full, the writer frees a
small reserve file it made at start, so the run's end (its state, and how much could not be
written and why) still reaches the file; and it says so in one line that no rate limit hides.

Nothing here is shared with another process: a fork child gets a brand-new ``Writer``
(``forked()``) with its own file, buffer, locks and thread, and never touches the parent's.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from tether import _tokens
from tether._diagnostics import warn_failure
from tether._threads import Flag, start_without_signals
from tether._values import MAX_STEP
from tether.store import format as fmt
from tether.store.rows import QueuedRow, encode_rows, fold_latest
from tether.store.segment_names import segment_file_name, segments_dir

if TYPE_CHECKING:  # tether.media loads with the first media a process logs
    from tether.media.queue import MediaQueue
    from tether.media.types import Media

FLUSH_INTERVAL_S: Final = 0.05
# Seconds of silence after which an idle writer touches its segment: a reader takes a
# segment unchanged for 3x this long as one whose process is gone.
SEGMENT_HEARTBEAT_S: Final = 30.0
LABEL_CHECK_S: Final = 0.25
# Records per frame (a block of rows counts as its rows): keeps frames small, so a torn
# tail costs little.
RECORDS_PER_FRAME: Final = 4096
# A frame over this is split (rows with long strings): every frame fits far inside one upload
# request, so the server never refuses a piece for its size.
FRAME_SPLIT_BYTES: Final = 1024 * 1024
# Frames kept in memory while the disk refuses them, before the rows in them are given up.
MAX_UNWRITTEN_BYTES: Final = 64 * 1024 * 1024
# Disk space set aside at start so that the end of the run can be written on a full disk.
RESERVE_BYTES: Final = 64 * 1024
RESERVE_PREFIX: Final = ".reserve-"
# Records that make up the bulk of a run and can be given up when the disk refuses them; the
# others (layouts, labels, config, summary, the final state) keep what was written readable.
_BULK_KINDS: Final = frozenset({fmt.K_ROWS, fmt.K_ROW, fmt.K_LINES, fmt.K_CONSOLE})

LabelFn = Callable[[], str]
# The summary key under which a writer records what it could not write (see ``_last_words``).
LOST_SUMMARY_KEY: Final = "_tether/unwritten"
_now = time.time

# Called at the start of every drain: console capture turns the text printed since the last
# drain into line records there, off the print() path.
_drain_hooks: list[Callable[[], None]] = []


def add_drain_hook(hook: Callable[[], None]) -> None:
    if hook not in _drain_hooks:
        _drain_hooks.append(hook)


def new_writer_id() -> str:
    return _tokens.token_hex(6)


class Writer:
    """Appends this process's records to its own segment file in ``run_dir``."""

    def __init__(
        self,
        run_dir: Path,
        *,
        header: dict[str, Any],
        label: LabelFn,
        first_step: int = 0,
    ) -> None:
        self.run_dir = run_dir
        self.writer_id = new_writer_id()
        self.pid = os.getpid()
        self.start_time = time.time()
        self.path: Path | None = None
        self._header = header
        self._label_fn = label
        self._label: str | None = None
        self._label_open = True  # not yet known, or only a pid: look again now and then
        self._label_checked = 0.0
        self._lock = threading.Lock()
        self._io_lock = threading.Lock()
        self._pending: list[Any] = []
        self._rows: list[QueuedRow] = []
        # Media logged and not yet encoded: made on the first media (tether.media.queue).
        self._media: MediaQueue | None = None
        # Rows taken by a drain and not yet folded into ``_latest`` (for latest_values()).
        self._inflight: list[QueuedRow] = []
        self._latest: dict[str, Any] = {}
        self._unwritten: list[bytes] = []
        self._unwritten_bytes = 0
        # What could not be written: rows and console lines given up, and the last reason.
        self.lost_rows = 0
        self.lost_lines = 0
        self.write_error: str | None = None
        self._refused = False  # the last write failed: frames pile up in memory until one works
        self._reserve: Path | None = None
        self._schemas: dict[tuple[str, ...], int] = {}
        self._next_seq = 0
        # Automatic steps come from a counter (``next()`` on it is atomic under the GIL, so
        # threads logging at once get distinct steps without a lock); explicit steps only
        # raise a floor that the counter is moved past when it falls behind.
        self._auto_steps = itertools.count(first_step)
        self._step_floor = first_step
        self._fd = -1
        self._good_size = 0
        self._last_write = time.monotonic()
        self._thread: threading.Thread | None = None
        self._stop = Flag()
        self._exiting = False
        self.closed = False
        self.degraded = False

    # -- the hot path -------------------------------------------------------------------
    def log_row(self, keys: tuple[str, ...], values: list[Any], step: int | None) -> int:
        """Queue one history row (``values`` in the order of ``keys``); returns its step.

        No lock: ``list.append`` is atomic under the GIL and a drain removes only the rows
        it took (``_take_queued``), so a row appended meanwhile stays for the next drain.
        """
        now = _now()
        if self._label_open and now - self._label_checked > LABEL_CHECK_S:
            self._relabel(now)
        if step is None:
            step = next(self._auto_steps)
            if step < self._step_floor:
                step = self._catch_up_steps()
        elif step >= self._step_floor:
            self._step_floor = step + 1
        self._rows.append((keys, step, now, values))
        if self._thread is None:
            self._start_thread()
        return step

    def take_step(self, step: int | None) -> int:
        """The step a ``log()`` of media alone gets: as ``log_row`` assigns it, without a row
        (so ``run.step`` moves on as it does after a row)."""
        now = _now()
        if self._label_open and now - self._label_checked > LABEL_CHECK_S:
            self._relabel(now)
        if step is None:
            step = next(self._auto_steps)
            if step < self._step_floor:
                step = self._catch_up_steps()
        elif step >= self._step_floor:
            self._step_floor = step + 1
        return step

    def media_queue(self) -> MediaQueue:
        """This writer's media queue, made on first use (``TETHER_MEDIA_QUEUE_BYTES`` is read
        then, so a bad value is refused before the call logs anything, and encoding's modules
        are imported then, on the caller's thread)."""
        queue = self._media
        if queue is None:
            from tether.media.encode import prepare
            from tether.media.queue import MediaQueue, cap_bytes

            prepare()  # here, not on the flusher: see prepare()
            with self._lock:
                if self._media is None:
                    self._media = MediaQueue(cap_bytes())
                queue = self._media
        return queue

    def log_media(self, media: list[tuple[str, int, Media]], step: int) -> None:
        """Queue ``(key, index, object)`` media logged at ``step``; the flusher encodes them
        and writes their file records (an object over the queue's cap is dropped, counted)."""
        queue = self.media_queue()
        now = _now()
        for key, index, value in media:
            queue.put(key, step, index, now, value)
        if self._thread is None:
            self._start_thread()

    def _media_records(self) -> list[Any]:
        """Encode the queued media (blobs first) into file records, plus a summary record
        when some were dropped or failed since the last one."""
        queue = self._media
        if queue is None:
            return []
        # Closing, or the process is leaving: no later drain retries a refused blob.
        final = self._stop.is_set() or not threading.main_thread().is_alive()
        taken = queue.take(final=final)
        records: list[Any] = [
            [fmt.K_FILE, when, info]
            for when, info in queue.encode(self.run_dir, taken, final=final)
        ]
        entry = queue.summary_entry()
        if entry is not None:
            from tether.media.queue import DROPPED_SUMMARY_KEY

            key = f"{DROPPED_SUMMARY_KEY}/{self.label}"
            records.append([fmt.K_SUMMARY, _now(), {key: entry}, []])
        return records

    def _catch_up_steps(self) -> int:
        # Explicit steps went past the counter: continue after the largest of them.
        with self._lock:
            step = max(next(self._auto_steps), self._step_floor)
            if step > MAX_STEP:
                # Only an explicit step of 2**63 - 1 leads here; refuse at the call, as for
                # any step the store cannot keep, rather than write a row no reader takes.
                self._auto_steps = itertools.count(step)
                raise ValueError(
                    f"tether.log(): the next automatic step would be {step}, over the largest "
                    f"step tether stores ({MAX_STEP}); pass step= explicitly"
                )
            self._auto_steps = itertools.count(step + 1)
            return step

    def append(self, record: list[Any]) -> None:
        """Queue a non-row record (``[kind, ...]``); a drain writes it after that drain's rows."""
        if self._label_open:
            now = time.time()
            if now - self._label_checked > LABEL_CHECK_S:
                self._relabel(now)
        with self._lock:
            self._pending.append(record)
        if self._thread is None:
            self._start_thread()

    @property
    def label(self) -> str:
        if self._label is None:
            self._label = self._label_fn()
            self._label_open = is_provisional(self._label)
        return self._label

    def _relabel(self, now: float) -> None:
        # Called from user threads: what a process knows of its rank (torch.distributed's
        # process group) can be per-thread, so the flusher thread cannot ask.
        self._label_checked = now
        if self._label is None:
            _ = self.label
            return
        better = self._label_fn()
        if better != self._label:
            with self._lock:
                self._pending.append([fmt.K_LABEL, better])
            self._label = better
        self._label_open = is_provisional(better)

    @property
    def next_step(self) -> int:
        with self._lock:  # a counter cannot be read without taking its value: put it back
            step = max(next(self._auto_steps), self._step_floor)
            self._auto_steps = itertools.count(step)
            return step

    def latest_values(self) -> dict[str, Any]:
        """The newest logged value of every key, including rows not yet written."""
        with self._lock:
            latest = dict(self._latest)
            rows = self._inflight + self._rows
        # Rows in flight may already be in ``_latest``: applying them again, in order, is
        # harmless and covers the moment between a drain taking them and folding them.
        fold_latest(latest, rows)
        return latest

    # -- getting bytes to disk ----------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Write everything queued so far; returns False if some of it could not be written.

        ``timeout`` bounds the wait for a drain already in progress on another thread.
        """
        return self._drain(timeout)

    def close(self) -> bool:
        """Flush, stop the flusher and close the file; idempotent.

        Returns False if anything logged could not be written; that has then been said in one
        warning that no rate limit holds back.
        """
        self._stop.set()
        ok = self._drain()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)
        with self._io_lock:
            if self._unwritten and not self.closed:
                ok = self._last_words()
            elif not self.closed and (self.lost_rows or self.lost_lines):
                # Given up mid-run, but the disk took the rest: the run still says what.
                self._encode([], [self._lost_record()])
                self._write_unwritten()
            if not self._unwritten and self._fd >= 0:
                try:
                    os.close(self._fd)
                except OSError:
                    pass
                self._fd = -1
            self._drop_reserve()
            if not self.closed and (self.lost_rows or self.lost_lines):
                ok = False
                warn_failure(
                    "write-lost",
                    f"{self.lost_rows} row(s) and {self.lost_lines} console line(s) of this "
                    f"process ({self.label}) could not be written to {self.path or self.run_dir} "
                    f"({self.write_error or 'write failed'}) and are lost",
                    always=True,
                )
            self.closed = True
        return ok

    def unwritten_summary(self) -> dict[str, Any] | None:
        """What this writer gave up so far (for the run's summary), or None if nothing."""
        if not (self.lost_rows or self.lost_lines):
            return None
        return {
            "rows": self.lost_rows,
            "console_lines": self.lost_lines,
            "reason": self.write_error or "write failed",
        }

    def forked(self, header: dict[str, Any], label: LabelFn) -> Writer:
        """The writer a fork child uses instead of this one (called in the child)."""
        if self._fd >= 0:
            try:  # the parent's descriptor: never written from the child
                os.close(self._fd)
            except OSError:
                pass
        child = Writer(self.run_dir, header=header, label=label)
        # No lock: another parent thread may have held it at fork time, and this is the
        # child's only thread now.
        child._latest = dict(self._latest)
        fold_latest(child._latest, self._inflight + self._rows)
        return child

    def _start_thread(self) -> None:
        with self._lock:
            if self._thread is not None or self.closed:
                return
            thread = threading.Thread(target=self._run_flusher, name="tether-flusher", daemon=False)
            self._thread = thread
        try:
            start_without_signals(thread)
        except RuntimeError:  # interpreter shutting down: flush() and exit hooks still write
            return
        register = getattr(threading, "_register_atexit", None)
        if register is not None:
            # Called by threading's shutdown (normal exit, and multiprocessing children before
            # os._exit) before it joins this thread: the last drain starts at once instead
            # of at the next poll, so a process leaves up to one flush interval sooner.
            try:
                register(self._leaving)
            except RuntimeError:
                pass

    def _leaving(self) -> None:
        if os.getpid() == self.pid:
            self._exiting = True
            self._stop.set()

    def _run_flusher(self) -> None:
        main = threading.main_thread()
        # Write the first records at once: the segment then exists for the parent to see
        # (finish() waits for busy children), even in a child that lives only milliseconds.
        self._drain()
        if self._next_seq == 0:
            self.open_now()
        while not self._stop.wait(FLUSH_INTERVAL_S):
            self._drain()
            if not main.is_alive():
                self._drain()  # the process is leaving: write what came in meanwhile
                return
            if self._fd >= 0 and time.monotonic() - self._last_write > SEGMENT_HEARTBEAT_S:
                self._heartbeat()
        if self._exiting:
            self._drain()

    def _heartbeat(self) -> None:
        # The segment's mtime tells readers on other hosts that this writer is alive.
        self._last_write = time.monotonic()
        try:
            os.utime(self._fd)
        except OSError:
            pass

    def open_now(self) -> bool:
        """Create the segment and write the header (and anything queued) right away."""
        with self._io_lock:
            try:
                rows, pending = self._take_queued()
                if rows or pending or self._next_seq == 0:
                    self._encode(rows, pending)
                return self._write_unwritten() if self._unwritten else True
            except Exception as exc:
                self.degraded = True
                warn_failure("write", f"could not start the run's file ({exc!r}); kept in memory")
                return False

    def ensure_flusher(self) -> None:
        """Start the flusher thread if it is not running yet (it starts on first record)."""
        if self._thread is None:
            self._start_thread()

    def _drain(self, timeout: float | None = None) -> bool:
        for hook in _drain_hooks:
            try:
                hook()
            except Exception:
                pass
        if not self._io_lock.acquire(timeout=-1 if timeout is None else timeout):
            return False
        try:
            rows, pending = self._take_queued()
            if self._media is not None:
                pending += self._media_records()
            if rows or pending:
                self._encode(rows, pending)
            if self._unwritten:
                return self._write_unwritten()
            return True
        except Exception as exc:  # our failure must never reach the training loop
            self.degraded = True
            self._refused = True
            self.write_error = str(exc)
            warn_failure("write", f"could not write run data ({exc!r}); it is kept in memory")
            return False
        finally:
            self._io_lock.release()

    def _take_queued(self) -> tuple[list[QueuedRow], list[Any]]:
        with self._lock:
            queued = self._rows
            count = len(queued)
            rows = queued[:count]
            # Only the rows taken: log_row() appends without the lock, maybe just now.
            del queued[:count]
            pending, self._pending = self._pending, []
            self._inflight = rows
        return rows, pending

    def _last_words(self) -> bool:
        """The disk still refuses our frames at close: write the run's end, give up the bulk.

        The queued frames are compacted to the records that keep the run readable (the final
        state among them) plus one summary record saying what was lost, and written into the
        space the reserve file held.
        """
        self._compact(closing=True)
        self._drop_reserve()
        if self._write_unwritten():
            return False  # the end is on disk; the rows counted as lost are not
        # Not even that fits: keep only the final state and the loss record.
        self._compact(closing=True, keep=frozenset({fmt.K_FINAL, fmt.K_SUMMARY, fmt.K_LABEL}))
        self._write_unwritten()
        return False

    def _compact(self, *, closing: bool = False, keep: frozenset[int] | None = None) -> None:
        """Replace the queued frames by one holding only their non-bulk records."""
        if not self._unwritten:
            return
        first_seq = None
        kept: list[Any] = []
        for frame in self._unwritten:
            scan = fmt.scan_frames(fmt.MAGIC + frame)
            for decoded in scan.frames:
                if first_seq is None:
                    first_seq = decoded.first_seq
                for record in decoded.records:
                    kind = record[0]
                    if keep is not None:
                        if kind in keep:
                            kept.append(record)
                        continue
                    if kind in _BULK_KINDS:
                        self._count_lost(record)
                    else:
                        kept.append(record)
        if closing and keep is None and (self.lost_rows or self.lost_lines):
            final = [r for r in kept if r[0] == fmt.K_FINAL]
            kept = [r for r in kept if r[0] != fmt.K_FINAL]
            kept += [self._lost_record(), *final]
        self._unwritten = []
        self._unwritten_bytes = 0
        if first_seq is None or not kept:
            return
        frame = fmt.encode_frame(first_seq, kept)
        self._next_seq = first_seq + len(kept)
        self._unwritten.append(frame)
        self._unwritten_bytes = len(frame)

    def _lost_record(self) -> list[Any]:
        # One summary key per writer, so that writers' reports do not overwrite each other.
        key = f"{LOST_SUMMARY_KEY}/{self.label}"
        return [fmt.K_SUMMARY, _now(), {key: self.unwritten_summary()}, []]

    def _count_lost(self, record: list[Any]) -> None:
        kind = record[0]
        if kind == fmt.K_ROWS:
            self.lost_rows += len(record[2])
        elif kind == fmt.K_ROW:
            self.lost_rows += 1
        elif kind == fmt.K_LINES:
            self.lost_lines += len(record[3])
        elif kind == fmt.K_CONSOLE:
            self.lost_lines += 1

    def _make_reserve(self) -> None:
        # Space for the end of the run when the disk fills up (see _last_words).
        path = self.run_dir / f"{RESERVE_PREFIX}{self.writer_id}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except OSError:
            return
        try:
            os.posix_fallocate(fd, 0, RESERVE_BYTES)
            self._reserve = path
        except (OSError, AttributeError):  # no room even now, or no fallocate on this OS
            _unlink(path)
        finally:
            os.close(fd)

    def _drop_reserve(self) -> None:
        if self._reserve is not None and os.getpid() == self.pid:
            _unlink(self._reserve)
        self._reserve = None

    def _encode(self, rows: list[QueuedRow], pending: list[Any]) -> None:
        records: list[Any] = []
        if self._next_seq == 0:
            records.append([fmt.K_HEADER, self._header_record()])
        if rows:
            records += encode_rows(rows, self._schemas, self.start_time, self._latest)
            with self._lock:
                self._inflight = []
        records += pending
        chunk: list[Any] = []
        weight = 0
        for record in records:
            chunk.append(record)
            weight += len(record[2]) if record[0] == fmt.K_ROWS else 1
            if weight >= RECORDS_PER_FRAME:
                self._add_frame(chunk)
                chunk, weight = [], 0
        if chunk:
            self._add_frame(chunk)

    def _add_frame(self, records: list[Any]) -> None:
        frame = fmt.encode_frame(self._next_seq, records)
        if len(frame) > FRAME_SPLIT_BYTES and _splittable(records):
            for part in _halves(records):
                self._add_frame(part)
            return
        self._unwritten.append(frame)
        self._unwritten_bytes += len(frame)
        self._next_seq += len(records)
        if self._refused and self._unwritten_bytes > MAX_UNWRITTEN_BYTES:
            self._compact()  # the disk has refused us for long: give up the bulk, counted
            warn_failure(
                "write",
                f"the disk has refused run data for a while ({self.write_error}); "
                f"{self.lost_rows} row(s) and {self.lost_lines} console line(s) given up so far",
            )

    def _header_record(self) -> dict[str, Any]:
        return {
            "format_version": fmt.FORMAT_VERSION,
            "writer_id": self.writer_id,
            "label": self.label,
            "pid": self.pid,
            "host": _hostname(),
            "start_time": self.start_time,
            "proc_start": process_start_ticks(self.pid),
            **self._header,
        }

    def _open(self) -> None:
        """Open (or, after a failure, reopen) this writer's segment for appending.

        A segment that is missing or empty on reopen (deleted under us) is started again
        with the header and every row layout, so the frames still in memory stay readable.
        """
        if self.path is None:
            self._make_reserve()
            name = segment_file_name(self.label, self.pid, self.writer_id)
            self.path = segments_dir(self.run_dir) / name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(self.path, flags, 0o644)
        size = os.fstat(fd).st_size
        if size == 0:
            preamble = fmt.MAGIC
            if self._good_size:  # we had written before: the file was lost, not new
                preamble += self._restart_frame()
            os.write(fd, preamble)
            size = len(preamble)
        self._fd = fd
        self._good_size = size

    def _restart_frame(self) -> bytes:
        records: list[Any] = [[fmt.K_HEADER, self._header_record()]]
        records += [[fmt.K_KEYS, schema, list(keys)] for keys, schema in self._schemas.items()]
        frame = fmt.encode_frame(self._next_seq, records)
        self._next_seq += len(records)
        return frame

    def _write_unwritten(self) -> bool:
        if self._fd >= 0 and _unlinked(self._fd):
            self._after_write_error()  # the file was deleted under us: start it again
        if self._fd < 0:
            self._open()
        fd = self._fd
        while self._unwritten:
            frame = self._unwritten[0]
            try:
                view = memoryview(frame)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
            except OSError as exc:
                self._after_write_error()
                self._refused = True
                self.write_error = exc.strerror or str(exc)
                warn_failure(
                    "write",
                    f"could not write to {self.path} ({exc.strerror or exc}); "
                    f"{len(self._unwritten)} frame(s) kept in memory and retried",
                )
                return False
            self._good_size += len(frame)
            self._unwritten_bytes -= len(frame)
            self._unwritten.pop(0)
        self._refused = False
        self._last_write = time.monotonic()
        return True

    def _after_write_error(self) -> None:
        # Cut a partly written frame off, so readers never meet a torn frame mid-file, and
        # reopen on the next drain: that heals a closed descriptor or a deleted file.
        self.degraded = True
        try:
            os.ftruncate(self._fd, self._good_size)
        except OSError:
            pass
        try:
            os.close(self._fd)
        except OSError:
            pass
        self._fd = -1


def _splittable(records: list[Any]) -> bool:
    return len(records) > 1 or (records[0][0] == fmt.K_ROWS and len(records[0][2]) > 1)


def _halves(records: list[Any]) -> list[list[Any]]:
    """Two smaller frames' worth of ``records`` (a lone row block is cut between its rows)."""
    if len(records) > 1:
        middle = len(records) // 2
        return [records[:middle], records[middle:]]
    kind, schema, steps, millis, values = records[0]
    middle = len(steps) // 2
    return [
        [[kind, schema, steps[:middle], millis[:middle], values[:middle]]],
        [[kind, schema, steps[middle:], millis[middle:], values[middle:]]],
    ]


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _unlinked(fd: int) -> bool:
    try:
        return os.fstat(fd).st_nlink == 0
    except OSError:
        return True


def is_provisional(label: str) -> bool:
    """A ``pid…`` label is replaced once the process learns its rank (``K_LABEL``)."""
    return label.startswith("pid")


def _hostname() -> str:
    try:
        return os.uname().nodename
    except AttributeError:  # pragma: no cover - Windows
        import socket

        return socket.gethostname()


def process_start_ticks(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (Linux), to tell a live writer from a reused pid.

    Returns -1 for a zombie (exited, not yet reaped): it writes nothing any more.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # Fields after the ')' that closes the command name: state is 3rd, starttime 22nd.
    fields = stat.rsplit(b")", 1)[-1].split()
    try:
        if fields[0] in (b"Z", b"X"):
            return -1
        return int(fields[19])
    except (IndexError, ValueError):
        return None
