"""The ``filter`` parameter that the runs list, its groups and the workspace's charts share:
parsed once, 422 with the position when malformed (``tether.server.run_filter``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Final

from fastapi import HTTPException, Query
from sqlalchemy import Connection
from sqlalchemy.exc import DataError
from sqlalchemy.sql.elements import ColumnElement

from tether.server.auth import User
from tether.server.run_filter import FilterError, parse, to_sql
from tether.server.run_filter.parse import MAX_LENGTH

FILTER_HELP: Final = (
    "A run filter, e.g. config.lr < 0.05 and state = finished (docs/workspace.md); "
    "422 with message, position and expected when malformed."
)
FilterParam = Annotated[
    str | None, Query(max_length=MAX_LENGTH, pattern=r"^[^\x00]*$", description=FILTER_HELP)
]


def filter_condition(
    text: str | None, connection: Connection, owner: User
) -> ColumnElement[bool] | None:
    """The filter as a condition on ``runs`` (None when absent or blank)."""
    if text is None or not text.strip():
        return None
    try:
        return to_sql(parse(text), dialect=connection.dialect.name, owner=owner.name, text=text)
    except FilterError as exc:
        raise HTTPException(422, exc.detail()) from exc


@contextmanager
def database_refusals() -> Iterator[None]:
    """A pattern PostgreSQL's regular expressions refuse (Python's accepted it): 422."""
    try:
        yield
    except DataError as exc:
        raise HTTPException(
            422,
            {
                "message": f"the database refused the filter: {str(exc.orig).splitlines()[0]}",
                "position": 0,
                "expected": [],
            },
        ) from exc
