"""A run read back from disk: every writer's segment merged into one view.

``load_run()`` is the public entry point. It walks each segment once (``reader``) and decodes
no history row: ``history()`` (a DataFrame, ``local_history``), ``rows()`` and ``summary``
read the row blocks they need when asked. The merged view orders history rows and console
lines by time across writers; each row and line keeps the label of the writer that made it.
``RemoteRun`` (``tether.api``) has the same read methods with the same results.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.errors import UsageError
from tether.store import layout
from tether.store.reader import Segment, last_values, list_segments, read_segment
from tether.store.records import apply_updates
from tether.store.writer import SEGMENT_HEARTBEAT_S, process_start_ticks

if TYPE_CHECKING:
    import pandas

    from tether.media.items import MediaItem


@dataclass(frozen=True)
class WriterInfo:
    """One process that wrote to the run."""

    id: str
    label: str
    pid: int
    host: str
    start_time: float
    main: bool
    rows: int
    console_lines: int
    torn_bytes: int
    # Bytes of damaged frames mid-file that the reader stepped over (their records are lost).
    skipped_bytes: int
    final_state: str | None
    path: Path


@dataclass(frozen=True)
class ConsoleLine:
    writer: str
    stream: str
    text: str
    time: float


class RunData:
    """Everything a run holds on disk; see ``load_run``."""

    def __init__(self, run_dir: Path, segments: list[Segment]) -> None:
        self.dir = run_dir
        self._segments = sorted(segments, key=lambda s: (not s.is_main, s.start_time))
        mains = [s for s in self._segments if s.is_main]
        self._main = max(mains, key=lambda s: s.start_time) if mains else None
        first_main = mains[0] if mains else None
        header = first_main.header if first_main else {}
        self.id: str = str(header.get("run_id", layout.run_id_of(run_dir)))
        self.name: str = str(header.get("name") or self.id)
        self.project: str = str(header.get("project", ""))
        self.group: str | None = header.get("group")
        self.job_type: str | None = header.get("job_type")
        self.tags: list[str] = list(header.get("tags") or [])
        self.notes: str | None = header.get("notes")
        self.start_time: float = min((s.start_time for s in segments), default=0.0)
        self._console: list[ConsoleLine] | None = None

    # -- state ------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """``running``, ``finished``, ``failed``, ``killed`` or ``crashed``."""
        main = self._main
        if main is None:
            return "crashed" if not any(_alive(s) for s in self._segments) else "running"
        if main.final is not None:
            return main.final[1]
        return "running" if _alive(main) else "crashed"

    @property
    def exit_code(self) -> int | None:
        return self._main.final[2] if self._main and self._main.final else None

    @property
    def end_time(self) -> float | None:
        if self._main and self._main.final:
            return self._main.final[0]
        if self.state == "crashed":
            return max((s.mtime for s in self._segments), default=None)
        return None

    @property
    def duration(self) -> float | None:
        end = self.end_time
        return None if end is None else max(0.0, end - self.start_time)

    # -- contents -----------------------------------------------------------------------
    @property
    def writers(self) -> list[WriterInfo]:
        return [
            WriterInfo(
                id=s.writer_id,
                label=s.label,
                pid=int(s.header.get("pid", 0)),
                host=str(s.header.get("host", "")),
                start_time=s.start_time,
                main=s.is_main,
                rows=s.row_count,
                console_lines=len(s.console),
                torn_bytes=s.torn_bytes,
                skipped_bytes=s.skipped_bytes,
                final_state=s.final[1] if s.final else None,
                path=s.path,
            )
            for s in self._segments
        ]

    # -- history (decoded only when asked for: store/local_history.py) ----------------------
    def history(
        self,
        keys: Sequence[str] | None = None,
        *,
        writer: str | None = None,
        samples: int | None = None,
    ) -> pandas.DataFrame:
        """Logged rows as a DataFrame: ``_step``, ``_time``, ``_writer`` and one column a key.

        Rows are in time order across writers. ``keys`` picks columns (and the rows that
        logged one of them); ``writer`` keeps one process's rows (``main``, ``rank1``...);
        ``samples`` keeps about that many points per key and writer, each bucket's minimum
        and maximum, as the server does. Dtypes: see ``tether.store.columns``. The same
        method, with the same result, as ``tether.Api().run(...).history()``.

        >>> run.history(["loss"]).plot(x="_step", y="loss")   # doctest: +SKIP
        """
        _check_keys("history", keys)
        _pandas("RunData.history()")
        from tether.store.local_history import history_frame_of

        return history_frame_of(self._segments, self.keys, keys, writer=writer, samples=samples)

    def rows(
        self, keys: Sequence[str] | None = None, *, writer: str | None = None
    ) -> list[dict[str, Any]]:
        """Every row as it was logged: a dict of ``_step``, ``_time``, ``_writer`` and the keys
        that row logged (no NaN for the others), in time order. ``iter_rows`` streams them."""
        _check_keys("rows", keys)
        from tether.store.local_history import iter_rows

        found = list(iter_rows(self._segments, keys, writer=writer))
        found.sort(key=_by_time)  # exact even where a writer's clock stepped back
        return found

    def iter_rows(
        self, keys: Sequence[str] | None = None, *, writer: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """``rows()`` one at a time, reading a block per writer at a time (bounded memory)."""
        _check_keys("iter_rows", keys)
        from tether.store.local_history import iter_rows

        return iter_rows(self._segments, keys, writer=writer)

    @property
    def keys(self) -> list[str]:
        """Every history key, in the order first logged (no row is decoded)."""
        seen: dict[str, None] = {}
        for segment in self._segments:
            seen.update(dict.fromkeys(segment.keys()))
        return list(seen)

    @property
    def config(self) -> dict[str, Any]:
        return apply_updates({}, (u for s in self._segments for u in s.config))

    @property
    def summary(self) -> dict[str, Any]:
        """Last logged value of each key, unless the user set the key in ``run.summary``."""
        result = last_values(self._segments)
        result.update(apply_updates({}, (u for s in self._segments for u in s.summary)))
        return result

    @property
    def last_step(self) -> int | None:
        steps = [s.max_step for s in self._segments if s.max_step is not None]
        return max(steps) if steps else None

    @property
    def main_next_step(self) -> int:
        """Where the main writer's steps continue when the run is resumed."""
        steps = [s.max_step for s in self._segments if s.is_main and s.max_step is not None]
        return max(steps) + 1 if steps else 0

    def system(
        self,
        metrics: str | list[str] | tuple[str, ...] | None = None,
        *,
        writer: str | None = None,
        samples: int | None = None,
    ) -> pandas.DataFrame:
        """System samples as a DataFrame: ``_time``, ``_writer``, then one column per metric.

        ``metrics`` picks columns by name (``["gpu.0.util_percent", "proc.rss_bytes"]``);
        ``writer`` keeps the samples of one writer label (one sampler runs per host). A
        metric a sample does not have (the first sample's rates) is NaN. ``samples`` keeps
        about that many points per metric and writer (each bucket's minimum and maximum), as
        ``RemoteRun.system()`` does.

        >>> run.system(["proc.rss_bytes"]).plot(x="_time")   # doctest: +SKIP
        """
        pandas = _pandas("RunData.system()")
        if isinstance(metrics, str):
            metrics = [metrics]
        records: list[dict[str, Any]] = []
        for segment in self._segments:
            label = segment.label
            if writer is not None and label != writer:
                continue
            for when, sample in segment.system:
                picked = (
                    sample if metrics is None else {k: sample[k] for k in metrics if k in sample}
                )
                records.append({"_time": when, "_writer": label, **picked})
        records.sort(key=_by_time)
        names = sorted({key for record in records for key in record} - {"_time", "_writer"})
        columns = ["_time", "_writer", *(names if metrics is None else metrics)]
        frame = pandas.DataFrame.from_records(records, columns=columns)
        if samples is None or frame.empty:
            return frame
        from tether.store.columns import downsample_rows

        codes = frame["_writer"].astype("category").cat.codes.to_numpy().astype("int32")
        values = {name: frame[name].to_numpy() for name in columns[2:]}
        return frame.iloc[downsample_rows(codes, values, samples)].reset_index(drop=True)

    @property
    def last_system_sample(self) -> dict[str, Any] | None:
        """The newest system sample with its ``_time`` and ``_writer``; None without any."""
        newest: tuple[float, str, dict[str, Any]] | None = None
        for segment in self._segments:
            if segment.system and (newest is None or segment.system[-1][0] > newest[0]):
                newest = (segment.system[-1][0], segment.label, segment.system[-1][1])
        if newest is None:
            return None
        return {"_time": newest[0], "_writer": newest[1], **newest[2]}

    @property
    def environment(self) -> dict[str, Any]:
        """What the run ran on and with: the main writer's environment sections, merged.

        Sections (``python``, ``platform``, ``cpu``, ``memory``, ``gpu``, ``torch``,
        ``packages``, ``command``, ``launcher``, ``git``) arrive in several records; a later
        record's section replaces an earlier one's. Empty for runs written before tether
        recorded environments.
        """
        merged: dict[str, Any] = {}
        records = [r for s in self._segments if s.is_main for r in s.environment]
        for _, sections in sorted(records, key=lambda record: record[0]):
            merged.update(sections)
        return merged

    # -- media (tether.media.listing: the same shapes as the server's answers) --------------
    def media(self, key: str, *, step: int | None = None) -> list[MediaItem]:
        """The images, histograms, tables and texts logged under ``key`` (at ``step``, when
        given), ordered by step, writer and index in a list; each a ``MediaItem`` that reads
        its bytes from the run folder. The same method as ``RemoteRun.media``.

        >>> run.media("samples", step=100)[0].to_pil()   # doctest: +SKIP
        """
        if not isinstance(key, str):
            raise UsageError(f"media(key={key!r}): pass one key as a str")
        if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
            raise UsageError(f"media(step={step!r}): pass an int step, or None for all steps")
        from tether.media import listing

        return listing.select(self._file_entries(), key, step, self._blob)

    def media_keys(self) -> list[dict[str, Any]]:
        """One ``{"key", "kind", "count", "min_step", "max_step"}`` per media key, by key."""
        from tether.media import listing

        return listing.keys(self._file_entries())

    def _file_entries(self) -> Iterator[tuple[str, float, dict[str, Any]]]:
        for segment in self._segments:
            for when, info in segment.files:
                yield segment.label, when, info

    def _blob(self, sha256: str) -> bytes:
        from tether.media.blobs import read_blob

        return read_blob(self.dir, sha256)

    def console(self, *, writer: str | None = None, stream: str | None = None) -> pandas.DataFrame:
        """Console lines as a DataFrame: ``_time``, ``_writer``, ``stream``, ``text``, by time.

        ``writer`` keeps one process's lines, ``stream`` one stream (``stdout``/``stderr``).
        The same method, with the same result, as ``tether.Api().run(...).console()``.
        """
        pandas = _pandas("RunData.console()")
        return console_frame(pandas, self.console_lines(writer=writer, stream=stream))

    def console_lines(
        self, *, writer: str | None = None, stream: str | None = None
    ) -> list[ConsoleLine]:
        """Console lines of every writer (or of ``writer``, or ``stream``), ordered by time."""
        if self._console is None:
            lines = [
                ConsoleLine(writer=s.label, stream=_stream_name(kind), text=text, time=when)
                for s in self._segments
                for when, kind, text in s.console
            ]
            lines.sort(key=lambda line: line.time)
            self._console = lines
        return [
            line
            for line in self._console
            if (writer is None or line.writer == writer)
            and (stream is None or line.stream == stream)
        ]

    def __repr__(self) -> str:
        return f"<RunData {self.id} {self.name!r} {self.state}>"


def load_run(
    path_or_id: str | os.PathLike[str], *, dir: str | os.PathLike[str] | None = None
) -> RunData:
    """Read a run back from disk by path, id, unique id prefix, or ``"latest"``.

    >>> run = tether.load_run("latest")                  # doctest: +SKIP
    >>> run.history(["loss"])["loss"].iloc[-1], run.state  # doctest: +SKIP
    """
    run_dir = layout.find_run_dir(path_or_id, directory=Path(dir) if dir is not None else None)
    return read_run_dir(run_dir)


def read_run_dir(run_dir: Path) -> RunData:
    segments = [s for s in map(read_segment, list_segments(run_dir)) if s is not None]
    return RunData(run_dir, segments)


def _pandas(call: str) -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError(f"{call} needs pandas: pip install 'tether[pandas]'") from None
    return pandas


def _by_time(row: dict[str, Any]) -> float:
    return float(row["_time"])


def _check_keys(method: str, keys: Sequence[str] | None) -> None:
    if isinstance(keys, str):
        raise UsageError(f"{method}(keys={keys!r}): pass a list of keys, e.g. [{keys!r}]")


def console_frame(pandas: Any, lines: list[ConsoleLine]) -> pandas.DataFrame:
    """Console lines as the DataFrame both the local and the remote run return: ``_writer``
    and ``stream`` categorical (as ``history()``'s ``_writer``), ``text`` as text."""
    writers = [line.writer for line in lines]
    streams = [line.stream for line in lines]
    return pandas.DataFrame(
        {
            "_time": pandas.Series([line.time for line in lines], dtype="float64"),
            "_writer": pandas.Categorical(writers, categories=sorted(set(writers))),
            "stream": pandas.Categorical(streams, categories=sorted(set(streams))),
            "text": pandas.Series([line.text for line in lines], dtype=object),
        },
        columns=["_time", "_writer", "stream", "text"],
    )


def _stream_name(stream: int) -> str:
    from tether.store.format import STREAM_NAMES

    return STREAM_NAMES.get(stream, str(stream))


def _alive(segment: Segment) -> bool:
    """Is the process that writes ``segment`` still running?"""
    import time

    host = segment.header.get("host")
    if host == os.uname().nodename:
        pid = int(segment.header.get("pid", 0))
        if pid <= 0:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        now = process_start_ticks(pid)
        if now == -1:
            return False  # a zombie: exited, its parent has not reaped it yet
        recorded = segment.header.get("proc_start")
        return recorded is None or now in (None, recorded)
    return time.time() - segment.mtime < 3 * SEGMENT_HEARTBEAT_S
