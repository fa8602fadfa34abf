"""The run's environment on the server: ``K_ENVIRONMENT`` records merged by section.

A record is ``[13, time, {section: value}]`` (``python``, ``platform``, ``cpu``, ``memory``,
``gpu``, ``torch``, ``packages``, ``command``, ``launcher``, ``git``...). Sections merge by
name across records and writers, the later record's section winning (each section keeps the
time of the record it came from, so an upload that arrives late cannot undo a newer one).

The whole environment (a git diff included, up to 1 MiB) is in ``run_environments`` and read
only by ``GET .../environment``. A few flat fields of it (``git.commit``, ``gpu.name``,
``python.version``...) are kept on the run as ``environment_summary``: the runs list carries
them, and the runs table can show and sort them as ``environment.<field>`` columns.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Connection, insert, select, update

from tether.server.ingest_checks import BadRecordError, check_number
from tether.server.series import json_safe
from tether.server.storage.schema import run_environments

# Left out of the summary (not of the environment): too long for a table cell, or paths that
# every run of a project shares and that would only make each row of the runs list longer.
_NOT_SUMMARISED: Final = frozenset({"packages", "diff", "executable", "cwd", "root"})
_SUMMARY_TEXT: Final = 256
_SUMMARY_FIELDS: Final = 64


def update_of(record: list[Any]) -> tuple[float, dict[str, Any]]:
    """The ``(time, {section: value})`` of a ``K_ENVIRONMENT`` record, as JSON can hold it."""
    if len(record) < 3:
        raise BadRecordError("record", f"malformed environment record: {len(record)} items, not 3")
    when = check_number(record[1], "time")
    sections = record[2]
    if not isinstance(sections, dict) or not all(isinstance(k, str) for k in sections):
        raise BadRecordError("environment", "an environment record holds a mapping of sections")
    cleaned: dict[str, Any] = _without_nul(json_safe(sections))
    return when, cleaned


def _without_nul(value: Any) -> Any:
    """PostgreSQL's JSON cannot hold a NUL character: replaced, as ``ingest_checks.text`` does."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def store(
    connection: Connection, run_pk: int, updates: list[tuple[float, dict[str, Any]]], now: float
) -> dict[str, Any]:
    """Merge ``updates`` into the run's environment; returns the run's new summary."""
    row = connection.execute(
        select(run_environments.c.sections, run_environments.c.times).where(
            run_environments.c.run_pk == run_pk
        )
    ).first()
    sections: dict[str, Any] = dict(row.sections) if row is not None else {}
    times: dict[str, float] = dict(row.times) if row is not None else {}
    for when, changed in sorted(updates, key=lambda u: u[0]):
        for name, value in changed.items():
            if when >= times.get(name, float("-inf")):
                sections[name] = value
                times[name] = when
    values = {"sections": sections, "times": times, "updated_at": now}
    if row is None:
        connection.execute(insert(run_environments).values(run_pk=run_pk, **values))
    else:
        connection.execute(
            update(run_environments).where(run_environments.c.run_pk == run_pk).values(**values)
        )
    return summary(sections)


def read(connection: Connection, run_pk: int) -> dict[str, Any]:
    """``{"environment": {section: value}, "updated_at": time or None}``."""
    row = connection.execute(
        select(run_environments.c.sections, run_environments.c.updated_at).where(
            run_environments.c.run_pk == run_pk
        )
    ).first()
    if row is None:
        return {"environment": {}, "updated_at": None}
    return {"environment": dict(row.sections), "updated_at": row.updated_at}


def summary(sections: dict[str, Any]) -> dict[str, Any]:
    """The environment's short scalar fields, flat (``git.commit``, ``python.version``...),
    plus ``gpu.name`` and ``gpu.count`` from the GPU devices."""
    flat: dict[str, Any] = {}
    gpu = sections.get("gpu")
    devices = gpu.get("devices") if isinstance(gpu, dict) else None
    if isinstance(devices, list) and devices:
        names = [str(d.get("name")) for d in devices if isinstance(d, dict) and d.get("name")]
        distinct = list(dict.fromkeys(names))
        if distinct:
            flat["gpu.name"] = ", ".join(distinct)[:_SUMMARY_TEXT]
        flat["gpu.count"] = len(devices)
    for name, value in sections.items():
        if name in _NOT_SUMMARISED:
            continue
        if _short_scalar(value):
            flat[name] = value
        elif isinstance(value, dict):
            for key, item in value.items():
                if key not in _NOT_SUMMARISED and _short_scalar(item):
                    flat.setdefault(f"{name}.{key}", item)
    return dict(list(flat.items())[:_SUMMARY_FIELDS])


def _short_scalar(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= _SUMMARY_TEXT
    return value is None or isinstance(value, bool | int | float)
