"""A parsed run filter as one SQLAlchemy condition on ``runs``, for SQLite and PostgreSQL.

Every value is a bound parameter and every key a bound JSON path: nothing of the filter's
text reaches the SQL string. Each condition is two-valued (``coalesce(..., false)``): SQL's
NULL would otherwise make ``not config.lr = 0.1`` drop the runs that have no ``lr``.

Meaning, the same on both databases:

- a number matches JSON numbers only, compared as numbers; a string matches JSON strings, by
  code point; ``true``/``false`` match booleans; ``= null`` means missing or null;
- ``a != v`` is ``a exists and not a = v``;
- ``~`` matches text values (Python's ``re.search`` on SQLite, PostgreSQL's ``~`` there);
- ``user`` is the project's owner (runs carry no other user).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Float,
    Text,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

from tether.server.run_filter.parse import (
    And,
    Compare,
    Exists,
    Field,
    FilterError,
    Has,
    In,
    Leaf,
    Literal,
    Match,
    Node,
    Not,
    Or,
)
from tether.server.runs_order import _postgres_json_value, _sqlite_path, has_tag
from tether.server.storage.schema import runs

_COLUMNS = {
    "state": runs.c.state,
    "name": runs.c.name,
    "group": runs.c.group_name,
    "job_type": runs.c.job_type,
    "host": runs.c.host,
    "id": runs.c.run_id,
    "start_time": runs.c.start_time,
    "last_step": runs.c.last_step,
}
_OPS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
Condition = ColumnElement[bool]


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    with warnings.catch_warnings():  # FutureWarnings of re ("possible nested set")
        warnings.simplefilter("ignore")
        return re.compile(pattern)


def sqlite_regexp(pattern: str | None, value: Any) -> bool | None:
    """SQLite's ``REGEXP`` (``value REGEXP pattern`` calls ``regexp(pattern, value)``)."""
    if pattern is None or value is None:
        return None
    try:
        return _compiled(pattern).search(str(value)) is not None
    except re.error:
        return False


def to_sql(node: Node, *, dialect: str, owner: str, text: str = "") -> Condition:
    """The condition ``node`` states about a row of ``runs``; ``FilterError`` (positioned in
    ``text``) for a field and operator that do not go together."""
    return _Builder(dialect, owner, text).build(node)


class _Builder:
    def __init__(self, dialect: str, owner: str, text: str) -> None:
        self.postgres = dialect == "postgresql"
        self.owner = owner
        self.text = text

    def fail(self, message: str, position: int, expected: list[str]) -> FilterError:
        return FilterError(message, text=self.text, position=position, expected=expected)

    def build(self, node: Node) -> Condition:
        if isinstance(node, And):
            return and_(*(self.build(item) for item in node.items))
        if isinstance(node, Or):
            return or_(*(self.build(item) for item in node.items))
        if isinstance(node, Not):
            return not_(self.build(node.item))
        return func.coalesce(self.leaf(node), false())

    def leaf(self, node: Leaf) -> Condition:
        if isinstance(node, In):
            return or_(*(self.leaf(Compare(node.field, "=", value)) for value in node.values))
        field = node.field
        if field.name == "tags" and field.section is None:
            return self.tags(node)
        if field.section is not None:
            return self.json(field, node)
        return self.plain(field, node)

    # -- plain columns ----------------------------------------------------------------------
    def column(self, field: Field) -> ColumnElement[Any]:
        if field.name == "user":
            return literal(self.owner, Text)
        if field.name == "duration":
            return func.coalesce(runs.c.end_time, runs.c.updated_at) - runs.c.start_time
        return _COLUMNS[field.name]

    def plain(self, field: Field, node: Leaf) -> Condition:
        column = self.column(field)
        numeric = field.name in ("start_time", "duration", "last_step")
        if isinstance(node, Exists):
            return column.is_not(None)
        if isinstance(node, Has):
            raise self.fail(
                f'has works on tags (tags has "x"); for {field} use =',
                field.position,
                ["=", "!=", "~", "in", "exists"],
            )
        if isinstance(node, Match):
            if numeric:
                raise self.fail(
                    f"{field} is a number: ~ matches text; compare it with < or >",
                    field.position,
                    list(_OPS),
                )
            return self.regex(column, str(node.pattern.value))
        assert isinstance(node, Compare)
        value = node.value
        if value.value is None:
            return self.null_compare(node, column.is_(None), value)
        if isinstance(value.value, bool) or (numeric and isinstance(value.value, str)):
            kind = "a number" if numeric else "text"
            raise self.fail(
                f"{field} holds {kind}: {value.text} cannot be compared with it",
                value.position,
                ["a number"] if numeric else ["a quoted string", "a word", "a number"],
            )
        if numeric:
            # As a float: an int past 64 bits would not bind (SQLite raises OverflowError).
            return _OPS[node.op](column, literal(float(value.value), Float))
        # A number compared with a text field compares as written: name = 001.
        return _OPS[node.op](self.collated(column), literal(value.text, Text))

    def collated(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # By code point, whatever the database's collation (as the runs list orders).
        return column.collate("C") if self.postgres else column

    def null_compare(self, node: Compare, is_null: Condition, value: Literal) -> Condition:
        if node.op == "=":
            return is_null
        if node.op == "!=":
            return not_(is_null)
        raise self.fail(
            f"null can only be compared with = or != (or use exists), not {node.op}",
            value.position,
            ["a number", "a quoted string"],
        )

    def regex(self, column: ColumnElement[Any], pattern: str) -> Condition:
        return column.regexp_match(literal(pattern, Text))

    # -- tags ---------------------------------------------------------------------------------
    def tags(self, node: Leaf) -> Condition:
        dialect = "postgresql" if self.postgres else "sqlite"
        if isinstance(node, Exists):
            return func.json_array_length(runs.c.tags) > 0
        if isinstance(node, Has) or (isinstance(node, Compare) and node.op == "="):
            value = node.value
            if not isinstance(value.value, str | int | float) or isinstance(value.value, bool):
                raise self.fail("a tag is text: give it in quotes", value.position, ["a string"])
            return has_tag(value.text, dialect=dialect)
        if isinstance(node, Compare) and node.op == "!=":
            return not_(has_tag(node.value.text, dialect=dialect))
        if isinstance(node, Match):
            element = self.tag_values()
            return exists(
                select(1)
                .select_from(element)
                .where(self.regex(element.c.value, str(node.pattern.value)))
            )
        position = node.value.position if isinstance(node, Compare) else node.field.position
        raise self.fail(
            'tags are a list: use tags has "x", tags in ("x", "y"), tags ~ "^x" or tags exists',
            position,
            ["has", "in", "~", "exists", "=", "!="],
        )

    def tag_values(self) -> Any:
        if self.postgres:
            return func.json_array_elements_text(runs.c.tags).table_valued("value")
        return func.json_each(runs.c.tags).table_valued("value")

    # -- config, summary, environment ---------------------------------------------------------
    def json(self, field: Field, node: Leaf) -> Condition:
        kind, number, text = self.json_parts(field)
        # json_type's names on SQLite; json_typeof's on PostgreSQL (booleans split there).
        is_number = kind.in_(["number"] if self.postgres else ["integer", "real"])
        is_text = kind == ("string" if self.postgres else "text")
        if isinstance(node, Exists):
            return and_(kind.is_not(None), kind != "null")
        if isinstance(node, Has):
            raise self.fail(
                f'has works on tags (tags has "x"); for {field} use = or in',
                field.position,
                ["=", "!=", "in", "~", "exists"],
            )
        if isinstance(node, Match):
            return and_(is_text, self.regex(text, str(node.pattern.value)))
        assert isinstance(node, Compare)
        value = node.value.value
        if value is None:
            return self.null_compare(node, or_(kind.is_(None), kind == "null"), node.value)
        if node.op == "!=":
            equal = self.json(field, Compare(field, "=", node.value))
            return and_(kind.is_not(None), kind != "null", not_(func.coalesce(equal, false())))
        if isinstance(value, bool):
            if node.op != "=":
                raise self.fail(
                    f"true and false can only be compared with = or !=, not {node.op}",
                    node.value.position,
                    ["a number", "a quoted string"],
                )
            return kind == ("true" if value else "false")
        if isinstance(value, str):
            return and_(is_text, _OPS[node.op](self.collated(text), literal(value, Text)))
        return and_(is_number, _OPS[node.op](number, literal(float(value), Float)))

    def json_parts(
        self, field: Field
    ) -> tuple[ColumnElement[Any], ColumnElement[Any], ColumnElement[Any]]:
        """The value's kind (SQLite's ``json_type``: integer, real, text, true, false, null,
        array, object; PostgreSQL's ``json_typeof`` with true and false for boolean; NULL when
        missing), its number and its text."""
        return json_parts(field, postgres=self.postgres)


def json_parts(
    field: Field, *, postgres: bool
) -> tuple[ColumnElement[Any], ColumnElement[Any], ColumnElement[Any]]:
    """A config, summary or environment field's kind, number and text (see ``_Builder``'s
    ``json_parts``): the accessors ``run_groups`` groups and aggregates with."""
    section, key = field.section or "", field.name
    if postgres:
        return _postgres_parts(section, key)
    return _sqlite_parts(section, key)


def _postgres_parts(
    section: str, key: str
) -> tuple[ColumnElement[Any], ColumnElement[Any], ColumnElement[Any]]:
    value = _postgres_json_value(section, key)
    typeof = func.json_typeof(value)
    raw = value.op("#>>", return_type=Text)(cast(literal([]), ARRAY(Text)))
    kind = case(
        (typeof == "boolean", case((raw == "true", "true"), else_="false")),
        else_=typeof,
    )
    number = cast(case((typeof == "number", raw), else_=null()), Float)
    return kind, number, raw


def _sqlite_parts(
    section: str, key: str
) -> tuple[ColumnElement[Any], ColumnElement[Any], ColumnElement[Any]]:
    column = {"config": runs.c.config, "environment": runs.c.environment_summary}.get(section)
    kind: ColumnElement[Any]
    value: ColumnElement[Any]
    if column is not None:
        kind, value = _sqlite_kind_value(column, key)
    else:
        user_kind, user_value = _sqlite_kind_value(runs.c.user_summary, key)
        logged_kind, logged_value = _sqlite_kind_value(runs.c.summary, key)
        # The user's summary wins whenever it holds the key, even as null.
        kind = case((user_kind.is_not(None), user_kind), else_=logged_kind)
        value = case((user_kind.is_not(None), user_value), else_=logged_value)
    return kind, value, value


def _sqlite_kind_value(column: Any, key: str) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    path = _sqlite_path(key)
    if path is not None:
        return func.json_type(column, path), func.json_extract(column, path)
    # A key a path cannot name (non-ASCII, quotes): json_each decodes the keys.
    element = func.json_each(column).table_valued("key", "type", "value")

    def pick(name: str) -> ColumnElement[Any]:
        return select(element.c[name]).where(element.c.key == key).limit(1).scalar_subquery()

    return pick("type"), pick("value")
