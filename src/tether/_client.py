"""The tracking client's module-level API: ``init``, ``log``, ``finish``, ``flush`` and the
current run (``tether.api`` is another thing: the query client of a server).

``init()`` decides between three things: attaching this process to a run started by a parent
process (spawned children), resuming a run by id, or starting a new run. The rest is small.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from tether import _env_vars, _registry
from tether._names import friendly_name
from tether._run import Run, writer_header
from tether._settings import Settings, resolve
from tether._values import config_mapping
from tether.errors import UsageError
from tether.process import hooks, launch
from tether.store import layout
from tether.store.writer import Writer

# Called by every init() before it makes a run current: the framework integrations end the
# run they started for the user here, as wandb's next init() ends the previous run.
_before_init: list[Callable[[], None]] = []


def call_before_init(hook: Callable[[], None]) -> None:
    """Have every later ``init()`` of this process call ``hook`` first (registered once)."""
    if hook not in _before_init:
        _before_init.append(hook)


def init(
    project: str | None = None,
    name: str | None = None,
    *,
    config: Any = None,
    dir: str | os.PathLike[str] | None = None,
    mode: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    tags: list[str] | tuple[str, ...] | None = None,
    notes: str | None = None,
    id: str | None = None,
    resume: str | bool | None = None,
    console: str | None = None,
    label: str | None = None,
    system: bool | float | None = None,
) -> Run:
    """Start a run (or join the one a parent process started) and make it current.

    Runs live under ``<dir>/tether/`` (``dir`` defaults to the working directory).
    ``mode="disabled"`` returns a run whose every call is a cheap no-op. Every argument can
    also come from a ``TETHER_*`` environment variable (see ``docs/architecture.md``).
    ``system`` sets the seconds between system-metrics samples (default 10, also
    ``TETHER_SYSTEM_INTERVAL_S``); ``system=False`` or 0 turns them off.

    >>> run = tether.init(project="mnist", config={"lr": 3e-4})   # doctest: +SKIP
    >>> run.log({"loss": 0.25})                                   # doctest: +SKIP
    >>> run.finish()                                              # doctest: +SKIP
    """
    settings = resolve(
        project=project,
        name=name,
        dir=dir,
        mode=mode,
        group=group,
        job_type=job_type,
        tags=tags,
        notes=notes,
        id=id,
        resume=resume,
        console=console,
        writer_label=label,
        system=system,
    )
    initial_config = config_mapping(config, where="init(config=...)")
    for hook in list(_before_init):  # after the checks: a rejected init() changes nothing
        hook()
    if settings.mode == "disabled":
        from tether._disabled import DisabledRun

        disabled = DisabledRun(settings, initial_config)
        _registry.push(disabled)
        return disabled
    parent_dir = _parent_run_dir(settings)
    rank_and_world = launch.launcher_rank() if settings.group is None else None
    upload_this_node = sample_this_node = False
    if parent_dir is None and rank_and_world is not None and rank_and_world[1] > 1:
        settings = msgspec.structs.replace(
            settings, run_id=settings.run_id or launch.launcher_run_id(), resume="allow"
        )
        if rank_and_world[0] == 0:
            return _start(settings, initial_config)
        assert settings.run_id is not None
        parent_dir, found = launch.wait_for_rank0(settings.runs_dir, settings.run_id)
        # Rank 0 writes on another machine: this node's segments go up from here.
        upload_this_node = not found and settings.client is not None
        sample_this_node = True  # samples_here() keeps local rank 0 of another host
    if parent_dir is not None:
        run = attach(parent_dir, label=settings.writer_label, console=settings.console)
        if upload_this_node and launch.claim_node_upload(parent_dir):
            _start_uploader(run, settings)
        if sample_this_node:
            _start_system(run, settings, owner=False)
        if initial_config:
            run.config.update(initial_config)
        return run
    return _start(settings, initial_config)


def _parent_run_dir(settings: Settings) -> Path | None:
    """The run a parent process exported for us to join, if we should join it."""
    exported = _env_vars.get(_env_vars.ATTACH_RUN_DIR)
    if not exported or settings.group is not None:
        return None
    if _env_vars.get(_env_vars.ATTACH_OWNER_PID) == str(os.getpid()):
        return None  # our own export: a nested init() in the creating process
    if settings.run_id is not None and settings.run_id != layout.run_id_of(Path(exported)):
        return None
    return Path(exported)


def attach(
    run_dir: Path,
    *,
    run_id: str | None = None,
    name: str | None = None,
    project: str | None = None,
    label: str | None = None,
    console: str | None = None,
) -> Run:
    """Join the run in ``run_dir`` as a new writer of this process (spawned children)."""
    for active in _registry.active_runs():
        if active.dir == run_dir:
            _registry.push(active)
            return active
    run_id = run_id or layout.run_id_of(run_dir)
    writer = Writer(
        run_dir,
        header=writer_header(run_id, main=False),
        label=hooks.attached_label(label or _env_vars.get(_env_vars.WRITER_LABEL)),
    )
    run = Run(
        run_id=run_id,
        run_dir=run_dir,
        name=name or run_id,
        project=project or "",
        writer=writer,
        owner=False,
    )
    writer.open_now()  # the parent's readers see this process as soon as it joins
    hooks.register(run)
    run._start_watching()
    _start_capture(run, console or _env_vars.get(_env_vars.CONSOLE) or "wrap")
    _registry.push(run)
    return run


def _start(settings: Settings, initial_config: dict[str, Any]) -> Run:
    runs_dir = settings.runs_dir
    start = time.time()
    run_id = settings.run_id or layout.new_run_id()
    existing = layout.find_run_by_id(runs_dir, run_id) if settings.run_id else None
    first_step = 0
    name = settings.name
    if existing is not None:
        if settings.resume in (None, "never"):
            raise UsageError(
                f"tether.init(): run id {run_id!r} already exists at {existing}; pass "
                "resume='allow' to continue it, or choose another id"
            )
        run_dir = existing
        from tether.store.run_data import read_run_dir

        previous = read_run_dir(existing)
        first_step = previous.main_next_step
        name = name or previous.name
        initial_config = {**previous.config, **initial_config}
    elif (remote := _remote_run(settings, run_id)) is not None:
        last = remote.get("last_step")
        first_step = int(last) + 1 if isinstance(last, int) else 0
        name = name or str(remote.get("name") or run_id)
        initial_config = {**dict(remote.get("config") or {}), **initial_config}
        run_dir = runs_dir / layout.run_dir_name(run_id, start)
    else:
        if settings.resume == "must":
            raise UsageError(
                f"tether.init(resume='must'): no run {run_id!r} under {runs_dir}; check the id "
                "and dir, or use resume='allow' to start it"
            )
        run_dir = runs_dir / layout.run_dir_name(run_id, start)
    name = name or friendly_name()
    header = {
        **writer_header(run_id, main=True),
        "project": settings.project,
        "name": name,
        "group": settings.group,
        "job_type": settings.job_type,
        "tags": list(settings.tags),
        "notes": settings.notes,
        "resumed": existing is not None,
        "python": "{}.{}.{}".format(*sys.version_info[:3]),
        "tether": _version(),
        "cwd": os.getcwd(),
    }
    try:
        layout.make_run_dir(run_dir)
    except OSError as exc:
        raise UsageError(
            f"tether.init(): cannot create the run directory {run_dir} ({exc.strerror}); "
            "pass dir= (or TETHER_DIR) pointing to a writable directory"
        ) from exc
    writer = Writer(
        run_dir,
        header=header,
        label=hooks.owner_label(settings.writer_label),
        first_step=first_step,
    )
    run = Run(
        run_id=run_id,
        run_dir=run_dir,
        name=name,
        project=settings.project,
        writer=writer,
        owner=True,
        settings=settings,
    )
    if initial_config:
        run.config.update(initial_config)
    writer.open_now()  # the run exists on disk from here on, even if the process dies now
    hooks.register(run)
    run._start_watching()
    os.environ[_env_vars.ATTACH_RUN_DIR.name] = str(run_dir)
    os.environ[_env_vars.ATTACH_OWNER_PID.name] = str(os.getpid())
    _start_capture(run, settings.console)
    if settings.client is not None:
        _start_uploader(run, settings)
    _start_system(run, settings, owner=True)
    _registry.push(run)
    return run


def _start_system(run: Run, settings: Settings, *, owner: bool) -> None:
    """The run's environment (its creator writes it) and one system sampler per host."""
    try:
        if owner:
            from tether.system.environment import EnvironmentCapture

            run._environment = EnvironmentCapture(run._writer.append, run_dir=run.dir)
            run._environment.start()
        from tether.system import sampler

        interval = settings.system_interval_s
        if interval > 0 and run._system is None and sampler.samples_here(owner=owner):
            run._system = sampler.Sampler(
                run._writer.append,
                interval=interval,
                disk_path=run.dir,
                root_pid=sampler.tree_root(),
                visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
            )
            run._system.start()
    except Exception as exc:  # no thread to be had: the run goes on without these
        from tether._diagnostics import warn_failure

        warn_failure("system", f"no system metrics or environment for this run ({exc!r})")


def _start_uploader(run: Run, settings: Settings) -> None:
    from tether.sync.uploader import Uploader

    assert settings.client is not None
    run._uploader = Uploader(
        run.dir,
        project=settings.project,
        run_id=run.id,
        base_url=settings.client.base_url,
        api_key=settings.client.api_key,
    )
    run._uploader.start()


def _remote_run(settings: Settings, run_id: str) -> dict[str, Any] | None:
    """The server's copy of run ``run_id`` when resuming an online run that is not local."""
    if settings.client is None or settings.resume not in ("allow", "must") or not settings.run_id:
        return None
    from tether.errors import NotOnServerError, TetherError
    from tether.sync.http import HttpClient, quote_part

    path = f"/projects/{quote_part(settings.project)}/runs/{quote_part(run_id)}"
    try:
        with HttpClient(settings.client.base_url, settings.client.api_key) as client:
            found = client.get_json(path)
    except NotOnServerError:
        return None
    except (TetherError, OSError) as exc:
        raise UsageError(
            f"tether.init(resume={settings.resume!r}): could not ask {settings.client.base_url} "
            f"for run {run_id!r} ({exc}); retry, or resume offline with mode='offline'"
        ) from exc
    return found if isinstance(found, dict) else None


def _start_capture(run: Run, console: str) -> None:
    if console == "off":
        return
    from tether.capture.session import CaptureSession

    run._capture = CaptureSession.start(run, mode=console)
    run._console_mode = console


def _version() -> str:
    from tether import __version__

    return __version__


def _unexport(run: Run) -> None:
    """A run ended: spawned children now join the newest run this process still owns."""
    owners = [r for r in _registry.current_runs() if r._owner]
    if run._owner and _env_vars.get(_env_vars.ATTACH_OWNER_PID) == str(os.getpid()):
        if owners:
            os.environ[_env_vars.ATTACH_RUN_DIR.name] = str(owners[-1].dir)
        elif _env_vars.get(_env_vars.ATTACH_RUN_DIR) == str(run.dir):
            os.environ.pop(_env_vars.ATTACH_RUN_DIR.name, None)
            os.environ.pop(_env_vars.ATTACH_OWNER_PID.name, None)


def current_run() -> Run | None:
    """The run ``tether.log()`` writes to in this process, if any."""
    return _registry.current()


def _require_run(call: str) -> Run:
    run = current_run()
    if run is None:
        raise UsageError(f"tether.{call}() needs a run: call tether.init() first")
    return run


def log(data: dict[str, Any], *, step: int | None = None) -> None:
    """Log to the current run; see ``Run.log``."""
    _require_run("log").log(data, step=step)


def finish(exit_code: int = 0) -> None:
    """Finish the current run; see ``Run.finish``."""
    run = current_run()
    if run is not None:
        run.finish(exit_code)


def flush() -> bool:
    """Return once everything logged so far in this process is on disk."""
    return all([run.flush() for run in _registry.active_runs()])


def _join_run(
    run_dir: str,
    run_id: str,
    name: str | None = None,
    project: str | None = None,
    console: str | None = None,
) -> Run:
    """``attach()`` with positional arguments: what an unpickled ``Run`` (or a spawned
    child's ``AttachFirst``) calls, by reference, to join the run in the child."""
    return attach(Path(run_dir), run_id=run_id, name=name, project=project, console=console)


def _reopen_disabled(project: str, name: str) -> Run:
    """An unpickled disabled run: a disabled run in this process too."""
    return init(project=project, name=name, mode="disabled")


_registry.provide_client(join_run=_join_run, reopen_disabled=_reopen_disabled, on_forget=_unexport)
