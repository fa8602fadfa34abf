"""``Run``: the handle user code holds; a thin facade over config, summary and this
process's writer.

A ``Run`` object may live in many processes at once (copied by fork, pickled to spawned
children). Whatever process it is in, it writes only through that process's own writer.
"""

from __future__ import annotations

import operator
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tether import _diagnostics, _env_vars, _registry
from tether._mappings import Config, Summary
from tether._settings import Settings
from tether._values import (
    FAST_VALUE_TYPES,
    MAX_STEP,
    check_row_keys,
    check_row_text,
    flatten_log,
)
from tether.errors import UsageError
from tether.process import hooks
from tether.process.exit_watch import ExitWatch
from tether.store import format as fmt
from tether.store.states import ENDED_STATES, RunState
from tether.store.writer import Writer

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Mapping

    from tether.artifacts.artifact import Artifact
    from tether.artifacts.run_artifacts import RunArtifacts

# Key layouts whose keys were found valid; past this many (keys that change every step),
# each row's keys are checked again instead of remembered.
_MAX_CHECKED_LAYOUTS = 10_000
# finish() waits at most this long for the environment's background sections (git, packages).
ENVIRONMENT_WAIT_S = 1.0
# finish() gives busy child processes this long (TETHER_FINISH_GRACE_S overrides).
FINISH_GRACE_S = 2.0
# finish() of an online run waits this long for the upload (TETHER_UPLOAD_TIMEOUT_S).
UPLOAD_TIMEOUT_S = 30.0


class Run:
    """A run being written. Make one with ``tether.init()``; don't construct it directly.

    >>> with tether.init(project="mnist", config={"lr": 3e-4}) as run:   # doctest: +SKIP
    ...     run.log({"loss": 0.25})
    """

    def __init__(
        self,
        *,
        run_id: str,
        run_dir: Path,
        name: str,
        project: str,
        writer: Writer,
        owner: bool,
        config: dict[str, Any] | None = None,
        settings: Settings | None = None,
    ) -> None:
        self._id = run_id
        self._dir = run_dir
        self._name = name
        self._project = project
        self._writer = writer
        self._owner = owner
        self._settings = settings
        self._state = RunState.RUNNING
        self._finish_lock = threading.Lock()
        self._exit_watch: ExitWatch | None = None
        self._capture: Any = None
        self._console_mode = "off"
        self._uploader: Any = None  # tether.sync.uploader.Uploader in online mode
        # tether.system: the sampler (one per host) and the environment capture (creator only).
        self._system: Any = None
        self._environment: Any = None
        self.config = Config(self._record, config)
        self.summary = Summary(self._record, self._logged_values)
        self._checked_layouts: set[tuple[str, ...]] = set()
        self._artifacts: RunArtifacts | None = None

    # -- identity ------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._id

    @property
    def name(self) -> str:
        return self._name

    @property
    def project(self) -> str:
        return self._project

    @property
    def dir(self) -> Path:
        """The run directory, holding one segment file per writer process."""
        return self._dir

    @property
    def state(self) -> str:
        return self._state.value

    @property
    def writer_label(self) -> str:
        """The label of this process's writer (``main``, ``rank1``, ``worker0``, ``pid…``)."""
        return self._writer.label

    @property
    def step(self) -> int:
        """The step the next ``log()`` without ``step=`` gets in this process."""
        return self._writer.next_step

    # -- writing -------------------------------------------------------------------------
    def log(self, data: dict[str, Any], *, step: int | None = None) -> None:
        """Record one row of metrics; returns at once (the write happens in the background).

        ``data`` maps string keys to scalars; nested dicts flatten to ``"a/b"``. A value may
        also be a ``tether.Image``, ``Histogram``, ``Table`` or ``Text``, or a list of them
        (docs/media.md): encoded and stored off this thread, with the row's step. Without
        ``step`` each process counts its own steps from 0; a ``step`` given out of order
        is kept as given.
        """
        if self._state is not RunState.RUNNING:
            raise UsageError(
                f"run {self._id} is {self._state.value}; log() after finish() is lost. "
                "Call tether.init() to start another run"
            )
        if type(data) is dict and (types := set(map(type, data.values()))) <= FAST_VALUE_TYPES:
            # The common case, a flat dict of floats: its key layout is checked once.
            keys = tuple(data)
            if keys not in self._checked_layouts:
                check_row_keys(keys)
                if len(self._checked_layouts) < _MAX_CHECKED_LAYOUTS:
                    self._checked_layouts.add(keys)
            values = list(data.values())
            if str in types:
                check_row_text(keys, values)
        else:
            flat, media = flatten_log(data)
            if media:
                self._log_media(flat, media, step)
                return
            keys, values = tuple(flat), list(flat.values())
        if step is not None and (type(step) is not int or not 0 <= step <= MAX_STEP):
            step = _checked_step(step)
        self._writer.log_row(keys, values, step)

    def _log_media(self, flat: dict[str, Any], media: dict[str, list[Any]], step: Any) -> None:
        """A ``log()`` holding media: its scalars make a row as usual, and each media object
        is queued (a copy, not encoded) with the row's step. Media alone still take a step,
        as a row would, so ``run.step`` moves on the same way."""
        if step is not None and (type(step) is not int or not 0 <= step <= MAX_STEP):
            step = _checked_step(step)
        self._writer.media_queue()  # refuses a bad TETHER_MEDIA_QUEUE_BYTES before any write
        if flat:
            step = self._writer.log_row(tuple(flat), list(flat.values()), step)
        else:
            step = self._writer.take_step(step)
        queued = [
            (key, i, value) for key, values in media.items() for i, value in enumerate(values)
        ]
        self._writer.log_media(queued, step)

    def log_artifact(
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        *,
        type: str = "model",
        metadata: Mapping[str, Any] | None = None,
        aliases: Iterable[str] = ("latest",),
    ) -> Artifact:
        """Log a file or a directory as the next version of artifact ``name`` (the path's
        base name by default); returns the ``Artifact`` (docs/artifacts.md).

        The bytes are read and stored in the run folder before this returns, so the file
        may be overwritten at once; unchanged 16 MiB chunks are stored once.
        """
        return self._artifact_log().log(path, name, type=type, metadata=metadata, aliases=aliases)

    def use_artifact(self, ref: str) -> Artifact:
        """The version ``"name:alias"`` or ``"name:vN"`` names, recorded as used by this run
        (lineage); ``.download()`` it to read its files."""
        return self._artifact_log().use(ref)

    def _artifact_log(self) -> RunArtifacts:
        if self._state is not RunState.RUNNING:
            raise UsageError(f"run {self._id} is {self._state.value}; it can no longer change")
        if self._artifacts is None:
            from tether.artifacts.run_artifacts import RunArtifacts

            client = self._settings.client if self._settings is not None else None
            self._artifacts = RunArtifacts(
                run_id=self._id,
                run_dir=self._dir,
                project=self._project,
                record=self._record,
                client=client,
            )
        return self._artifacts

    def _logged_values(self) -> dict[str, Any]:
        return self._writer.latest_values()

    def flush(self) -> bool:
        """Return once everything logged so far is on disk (False if a write failed)."""
        return self._writer.flush()

    def finish(self, exit_code: int = 0, *, state: str | None = None) -> None:
        """End the run: write the final state and everything still in memory. Idempotent.

        Child processes still writing to the run get a bounded grace time to exit
        (``TETHER_FINISH_GRACE_S``, default 2 s); what they write later is still kept.
        """
        exit_code = _checked_exit_code(exit_code)
        if state is None:
            state = "finished" if exit_code == 0 else "failed"
        self._end(RunState(_checked_state(state)), exit_code, grace=_finish_grace())

    def _record(self, record: list[Any]) -> None:
        if self._state is not RunState.RUNNING:
            raise UsageError(f"run {self._id} is {self._state.value}; it can no longer change")
        self._writer.append(record)

    def _end(self, state: RunState, exit_code: int, *, grace: float = 0.2) -> None:
        with self._finish_lock:
            if self._state is not RunState.RUNNING:
                return
            self._state = state
        try:
            self._stop_system()
            if self._owner and grace > 0:
                self._writer.flush()
                hooks.wait_for_child_writers(self._dir, grace)
            if self._capture is not None:
                self._capture.stop()
                self._capture = None
            self._writer.append([fmt.K_FINAL, time.time(), state.value, exit_code])
            self._writer.close()
            if self._uploader is not None:
                # Killed: the process is going away, so wait briefly; `tether sync` does the rest.
                self._finish_upload(3.0 if state is RunState.KILLED else None)
        except Exception:
            _diagnostics.warn_failure("finish", f"could not write the end of run {self._id}")
        finally:
            _registry.unregister(self)
            if self._exit_watch is not None:
                self._exit_watch.uninstall()
            _registry.forget(self)

    def _stop_system(self) -> None:
        # The sampler stops at once (a sample under way is dropped); the environment's last
        # sections (git, packages) get a bounded wait so a short run still has them.
        system, self._system = self._system, None
        if system is not None:
            system.stop()
        environment, self._environment = self._environment, None
        if environment is not None:
            environment.wait(ENVIRONMENT_WAIT_S)

    def _finish_upload(self, timeout: float | None) -> None:
        """Online: wait for the upload while it makes progress (up to the timeout), and not at
        all when the server is down or silent; then say how to send the rest."""
        uploader, self._uploader = self._uploader, None
        if timeout is None:
            timeout = _env_vars.seconds(_env_vars.UPLOAD_TIMEOUT_S, UPLOAD_TIMEOUT_S)
        done = False
        try:
            done = uploader.wait(timeout)
            if not done:
                why = uploader.last_error or "the server refused some of it"
                _diagnostics.warn_failure(
                    "upload-finish",
                    f"run {self._id}: {uploader.pending_bytes()} bytes are not on the server "
                    f"yet ({why}); they are safe on disk, send them with "
                    f"`tether sync {self._dir}`",
                    always=True,
                )
        finally:
            # A thread stuck on a silent server is a daemon: not waited for.
            uploader.stop(join_s=2.0 if done else 0.1)

    # -- context manager -------------------------------------------------------------------
    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.finish()
        elif issubclass(kind, KeyboardInterrupt):
            self._end(RunState.KILLED, 130)
        else:
            self._end(RunState.FAILED, 1)

    # -- processes ---------------------------------------------------------------------------
    def _start_watching(self) -> None:
        """Mark this process's part of the run failed/killed on exceptions and SIGTERM.

        In the creating process that ends the run; in a process that attached, it ends (and
        writes out) that process's writer before the signal takes the process down.
        """
        watch = ExitWatch(
            lambda state, code: self._end(RunState(state), code),
            # A fork child inherits the handler: it ends the child's own writers.
            in_fork_child=lambda signum: hooks.exit_flush(killed_by=signum),
        )
        watch.install()
        self._exit_watch = watch

    def _become_fork_child(self) -> None:
        """Called in a fork child: take a writer of our own; the parent's is not ours."""
        parent_label = self._writer.label if self._writer._label else "main"
        self._writer = self._writer.forked(
            header=self._writer_header(main=False), label=hooks.forked_label(parent_label)
        )
        self._owner = False
        self._finish_lock = threading.Lock()
        self._exit_watch = None
        # The parent's threads are not in this process: never stop or wait for them here.
        self._system = None
        self._environment = None
        if self._capture is not None:
            self._capture.after_fork()

    def _on_process_exit(self, killed_by: int | None = None) -> None:
        if killed_by is not None:
            self._end(RunState.KILLED, 128 + killed_by)
            return
        state = RunState.RUNNING
        if self._owner and self._exit_watch is not None and self._exit_watch.seen_exception:
            state = RunState(self._exit_watch.seen_exception)
        if state is RunState.RUNNING:
            exit_code = 0
            state = RunState.FINISHED
        else:
            exit_code = 1
        self._end(state, exit_code)

    def _writer_header(self, *, main: bool) -> dict[str, Any]:
        return writer_header(self._id, main=main)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # A Run crosses to spawned processes as its address; the other side attaches
        # (through tether._client, which pickle imports there by the function's name).
        join_run = _registry.join_run_function()
        if join_run is None:
            raise TypeError("only a Run made by tether.init() can be pickled")
        return (join_run, (str(self._dir), self._id, self._name, self._project))

    def __repr__(self) -> str:
        return f"<tether.Run {self._id} {self._name!r} {self.state} writer={self._writer.label}>"


def _finish_grace() -> float:
    return _env_vars.seconds(_env_vars.FINISH_GRACE_S, FINISH_GRACE_S)


def writer_header(run_id: str, *, main: bool) -> dict[str, Any]:
    argv = list(sys.argv)
    if any("://" in arg for arg in argv):  # a URL with a password on the command line
        from tether.system.redact import redact_arg

        argv = [redact_arg(arg) for arg in argv]
    return {"run_id": run_id, "main": main, "argv": argv}


def _checked_exit_code(code: object) -> int:
    # An exit status is a small int; the server keeps a 32-bit one, so check it here, where
    # the caller can fix it, not at upload, where nobody can.
    if isinstance(code, bool) or not isinstance(code, int):
        raise TypeError(
            f"tether.finish(): exit_code must be an int, got {type(code).__name__} {code!r}"
        )
    if not -(2**31) <= code < 2**31:
        raise ValueError(
            f"tether.finish(): exit_code {code} is not a process exit status; pass a small int "
            "such as 0 (success) or 1 (failure)"
        )
    return int(code)


def _checked_state(state: object) -> str:
    allowed = [s.value for s in ENDED_STATES]
    if state not in allowed:
        raise ValueError(
            f"tether.finish(): state {state!r} is not one of {', '.join(allowed)}; "
            "pass one of these or leave it out"
        )
    return str(state)


def _checked_step(step: object) -> int:
    try:
        if isinstance(step, bool):
            raise TypeError
        value = operator.index(step)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"tether.log(): step must be an int, got {type(step).__name__} {step!r}; "
            "pass step=int(value)"
        ) from None
    if value < 0:
        raise ValueError(f"tether.log(): step must be >= 0, got {value}")
    if value > MAX_STEP:
        raise ValueError(
            f"tether.log(): step {value} is over the largest step tether stores "
            f"(2**63 - 1 = {MAX_STEP}); count steps from 0, or log a large counter as a "
            "metric instead"
        )
    return value
