"""The runs list's sort order and tag filter as SQL, for SQLite and PostgreSQL.

The database sorts and cuts the page (``ORDER BY ... LIMIT ... OFFSET``), so a page of a project
with 10,000 runs reads one column's worth of values and builds 100 rows, never 10,000.

The order is the one the API has always had: values of one field compare as numbers (booleans
as 0 and 1) before strings (by code point), a run without the field (or with a JSON null) comes
last in both directions, and runs that tie keep their insertion order (``runs.id``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Integer,
    Numeric,
    Text,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.sql import Select

from tether.server.storage.schema import runs

# Columns sorted as they are; ``duration`` and ``section.key`` fields are computed.
PLAIN_FIELDS = ("start_time", "name", "state", "last_step")


def page_ids(
    conditions: list[ColumnElement[bool]], order: str, *, limit: int, offset: int, dialect: str
) -> Select[tuple[int]]:
    """``SELECT runs.id`` of one page: the runs matching ``conditions``, in ``order`` (a field,
    ``-`` first for descending)."""
    field, descending = order.lstrip("-"), order.startswith("-")
    if "." in field and dialect == "postgresql":
        section, key = field.split(".", 1)
        # One JSON lookup per run, kept in a materialised CTE: PostgreSQL re-parses a json
        # column in every expression that names it, and the order needs several.
        picked = (
            select(runs.c.id, _postgres_json_value(section, key).label("value"))
            .where(*conditions)
            .cte("picked")
            .prefix_with("MATERIALIZED")
        )
        terms = _postgres_json_terms(picked.c.value)
        query = select(picked.c.id).order_by(*_directed(terms, descending), picked.c.id.asc())
    else:
        terms = [_sql_value(field, dialect)]
        query = select(runs.c.id).where(*conditions)
        query = query.order_by(*_directed(terms, descending), runs.c.id.asc())
    return query.limit(limit).offset(offset)


def _directed(terms: list[ColumnElement[Any]], descending: bool) -> list[ColumnElement[Any]]:
    return [(t.desc() if descending else t.asc()).nulls_last() for t in terms]


def _sql_value(field: str, dialect: str) -> ColumnElement[Any]:
    if "." in field:
        return _sqlite_json_value(*field.split(".", 1))
    if field == "duration":
        return func.coalesce(runs.c.end_time, runs.c.updated_at) - runs.c.start_time
    if field in ("name", "state") and dialect == "postgresql":
        # The database's collation may ignore case and punctuation; the API orders by code point.
        return runs.c[field].collate("C")
    if field in PLAIN_FIELDS:
        return runs.c[field]
    raise ValueError(f"cannot order runs by {field!r}")


def has_tag(tag: str, *, dialect: str) -> ColumnElement[bool]:
    """Runs whose ``tags`` list holds ``tag``."""
    if dialect == "postgresql":
        if "\x00" in tag:  # PostgreSQL text cannot hold NUL, and so no tag holds one
            return false()
        wanted = func.jsonb_build_array(cast(literal(tag), Text))
        return cast(runs.c.tags, JSONB).contains(wanted)
    element = func.json_each(runs.c.tags).table_valued("value")
    return exists(select(1).select_from(element).where(element.c.value == tag))


# -- SQLite ---------------------------------------------------------------------------------
def _sqlite_json_value(section: str, key: str) -> ColumnElement[Any]:
    """The key's value as SQLite returns it from JSON: NULL, a number (true/false as 1/0), or
    text (objects and arrays as their JSON). SQLite's own order of these (numbers before text,
    text by code point) is the API's order, so one term sorts."""
    if section == "config":
        return _sqlite_get(runs.c.config, key)
    if section == "environment":
        return _sqlite_get(runs.c.environment_summary, key)
    # The user's summary wins over the logged one whenever it holds the key, even as null.
    return case(
        (_sqlite_has(runs.c.user_summary, key), _sqlite_get(runs.c.user_summary, key)),
        else_=_sqlite_get(runs.c.summary, key),
    )


def _sqlite_path(key: str) -> str | None:
    """``$."key"``, or None where a path cannot name the key: SQLite's path syntax has no
    escapes, and it matches keys as written in the JSON text, where Python's encoder wrote
    non-ASCII and control characters as ``\\u`` escapes."""
    if key.isascii() and key.isprintable() and '"' not in key and "\\" not in key:
        return f'$."{key}"'
    return None


def _sqlite_get(column: Any, key: str) -> ColumnElement[Any]:
    path = _sqlite_path(key)
    if path is not None:
        return func.json_extract(column, path)
    # Slower (it walks every key) but exact for any key: json_each decodes the keys.
    element = func.json_each(column).table_valued("key", "value")
    return select(element.c.value).where(element.c.key == key).limit(1).scalar_subquery()


def _sqlite_has(column: Any, key: str) -> ColumnElement[bool]:
    path = _sqlite_path(key)
    if path is not None:
        return func.json_type(column, path).is_not(None)
    element = func.json_each(column).table_valued("key")
    return exists(select(1).select_from(element).where(element.c.key == key))


# -- PostgreSQL -----------------------------------------------------------------------------
def _postgres_json_value(section: str, key: str) -> ColumnElement[Any]:
    """The key's JSON value; SQL NULL only where the key is missing (``->`` keeps a JSON null)."""
    if "\x00" in key:  # PostgreSQL text cannot hold NUL, and so no stored key holds one
        return cast(null(), JSON)
    if section == "config":
        return runs.c.config.op("->")(literal(key, Text))
    if section == "environment":
        return runs.c.environment_summary.op("->")(literal(key, Text))
    # The user's summary wins over the logged one whenever it holds the key, even as null.
    return func.coalesce(
        runs.c.user_summary.op("->")(literal(key, Text)),
        runs.c.summary.op("->")(literal(key, Text)),
    )


def _postgres_json_terms(value: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    """Three terms: the kind (numbers and booleans 0; strings, objects and arrays 1; missing or
    null: NULL), the numeric value, and the text (``COLLATE "C"``: by code point)."""
    kind = func.json_typeof(value)
    text = value.op("#>>", return_type=Text)(cast(literal([]), ARRAY(Text)))
    rank = case(
        (kind.in_(["number", "boolean"]), 0),
        (kind.in_(["string", "object", "array"]), 1),
        else_=null(),
    )
    numeric = case(
        (kind == "number", cast(text, Numeric)),
        (kind == "boolean", cast(cast(text, Boolean), Integer)),
        else_=null(),
    )
    return [rank, numeric, case((rank == 1, text.collate("C")), else_=null())]
