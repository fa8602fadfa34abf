"""Runs folded into groups by one or more fields (``GET P/runs/groups``): a count, the run ids
and, per numeric summary key, mean, min, max, std and count.

The filtered runs come out of SQL with only the columns the fields need; grouping and the
aggregates are Python over those rows (10,000 runs of ~20 summary keys: tens of ms), so every
field a filter knows can be a group key, on both databases alike.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import ColumnElement, Connection, select

from tether.server.run_filter.parse import Field
from tether.server.storage.schema import runs

MAX_RUN_IDS: Final = 1000  # run ids listed per group
_PLAIN = {
    "state": "state",
    "name": "name",
    "group": "group_name",
    "job_type": "job_type",
    "host": "host",
    "id": "run_id",
    "start_time": "start_time",
    "last_step": "last_step",
}


@dataclass
class Group:
    key: dict[str, Any]
    label: str
    pks: list[int] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)


def label_of(key: dict[str, Any]) -> str:
    """``config.lr=0.01, group=a``: the name of a group in ``groups`` and its history."""
    return ", ".join(f"{name}={_text(value)}" for name, value in key.items())


def _text(value: Any) -> str:
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value  # plain text as it is: group=a
        # Text that reads as a number, true or null ("1"), quoted: never the label of 1.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def group_runs(
    connection: Connection,
    *,
    owner: str,
    project_pk: int,
    by: Sequence[Field],
    where: ColumnElement[bool] | None,
    summary_keys: Sequence[str] | None = None,
    with_summary: bool = True,
) -> list[Group]:
    """The project's runs passing ``where``, grouped by ``by``, groups in the API's order of
    their key values (numbers before text, missing last); runs in creation order."""
    columns = {runs.c.id, runs.c.run_id}
    for f in by:
        columns.update(_columns_of(f))
    if with_summary:
        columns.update((runs.c.summary, runs.c.user_summary))
    query = select(*sorted(columns, key=lambda c: c.name)).where(runs.c.project_id == project_pk)
    if where is not None:
        query = query.where(where)
    groups: dict[str, Group] = {}
    wanted = set(summary_keys) if summary_keys else None
    for row in connection.execute(query.order_by(runs.c.id)):
        values = {str(f): _value(row, f, owner) for f in by}
        identity = json.dumps(list(values.values()), sort_keys=True, default=str)
        group = groups.get(identity)
        if group is None:
            group = groups[identity] = Group(values, label_of(values))
        group.pks.append(int(row.id))
        if len(group.run_ids) < MAX_RUN_IDS:
            group.run_ids.append(row.run_id)
        if with_summary:
            _collect(group.values, {**(row.summary or {}), **(row.user_summary or {})}, wanted)
    return sorted(groups.values(), key=lambda g: [_order(v) for v in g.key.values()])


def groups_json(groups: list[Group]) -> list[dict[str, Any]]:
    return [
        {
            "key": g.key,
            "label": g.label,
            "count": len(g.pks),
            "runs": g.run_ids,
            "summary": {k: _stats(v) for k, v in sorted(g.values.items())},
        }
        for g in groups
    ]


def _columns_of(f: Field) -> list[Any]:
    if f.section == "config":
        return [runs.c.config]
    if f.section == "summary":
        return [runs.c.summary, runs.c.user_summary]
    if f.section == "environment":
        return [runs.c.environment_summary]
    if f.name == "tags":
        return [runs.c.tags]
    if f.name == "duration":
        return [runs.c.start_time, runs.c.end_time, runs.c.updated_at]
    if f.name == "user":
        return []
    return [runs.c[_PLAIN[f.name]]]


def _value(row: Any, f: Field, owner: str) -> Any:
    if f.section == "config":
        return (row.config or {}).get(f.name)
    if f.section == "summary":
        user = row.user_summary or {}
        return user[f.name] if f.name in user else (row.summary or {}).get(f.name)
    if f.section == "environment":
        return (row.environment_summary or {}).get(f.name)
    if f.name == "tags":
        return sorted(row.tags or [])
    if f.name == "duration":
        end = row.end_time if row.end_time is not None else row.updated_at
        return end - row.start_time
    if f.name == "user":
        return owner
    return getattr(row, _PLAIN[f.name])


def _order(value: Any) -> tuple[int, float, str]:
    if value is None:
        return (2, 0.0, "")
    if isinstance(value, bool | int | float):
        return (0, float(value), "")
    return (1, 0.0, _text(value))


def _collect(
    into: dict[str, list[float]], summary: dict[str, Any], wanted: set[str] | None
) -> None:
    for key, value in summary.items():
        if type(value) not in (int, float) or (wanted is not None and key not in wanted):
            continue  # numbers only (a bool is not one); NaN and infinities left out
        if math.isfinite(value):
            into.setdefault(key, []).append(float(value))


def _stats(values: list[float]) -> dict[str, float | int]:
    count = len(values)
    mean = math.fsum(values) / count
    spread = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / count)
    return {"mean": mean, "min": min(values), "max": max(values), "std": spread, "count": count}
