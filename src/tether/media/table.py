"""``Table``: rows of numbers, strings, bools, None and images, stored as one JSON blob.

The constructor checks every cell and copies the rows (numpy and torch scalars become Python
numbers there), so the caller's lists and DataFrame may change right after. Images in cells
are ``tether.Image`` objects; each is stored as its own blob and the table names it by hash
(docs/format.md). Floats NaN and infinite are written as JSON ``null``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tether._values import to_scalar
from tether.media.types import Image, Media, checked_utf8


class Table(Media):
    """A table to log: ``tether.Table(columns=["id", "image"], rows=[[0, tether.Image(x)]])``,
    or ``tether.Table(dataframe=df)``."""

    __slots__ = ("_nbytes", "columns", "rows")
    kind: ClassVar[str] = "table"

    def __init__(
        self,
        *,
        columns: list[str] | None = None,
        rows: Any = None,
        dataframe: Any = None,
    ) -> None:
        if dataframe is not None:
            if columns is not None or rows is not None:
                raise TypeError(
                    "tether.Table(): pass dataframe= alone, or columns= and rows=, not both"
                )
            columns = [str(name) for name in dataframe.columns]
            rows = dataframe.itertuples(index=False, name=None)
        elif columns is None or rows is None:
            raise TypeError(
                "tether.Table(): pass columns= (a list of names) and rows= (a list of rows), "
                "or dataframe="
            )
        self.columns = _checked_columns(columns)
        self._nbytes = 64
        self.rows: list[list[Any]] = [self._checked_row(i, row) for i, row in enumerate(rows)]

    def _checked_row(self, index: int, row: Any) -> list[Any]:
        if isinstance(row, str | bytes) or not hasattr(row, "__len__"):
            raise TypeError(
                f"tether.Table(): row {index} is a {type(row).__name__}, not a list of cells"
            )
        if len(row) != len(self.columns):
            raise ValueError(
                f"tether.Table(): row {index} has {len(row)} cells but there are "
                f"{len(self.columns)} columns; give every row one cell per column "
                "(None for a missing value)"
            )
        return [
            self._checked_cell(index, name, cell)
            for name, cell in zip(self.columns, row, strict=True)
        ]

    def _checked_cell(self, index: int, column: str, cell: Any) -> Any:
        kind = type(cell)
        if cell is None or kind is bool or kind is float:
            self._nbytes += 8
            return cell
        if kind is str:
            self._nbytes += len(cell)
            if not cell.isascii():
                checked_utf8(cell, f"tether.Table(): row {index}, column {column!r}")
            return cell
        if isinstance(cell, Image):
            self._nbytes += cell.nbytes
            return cell
        if isinstance(cell, Media):
            raise TypeError(
                f"tether.Table(): row {index}, column {column!r} holds a {type(cell).__name__}; "
                "a cell is a number, a str, a bool, None or a tether.Image"
            )
        try:
            scalar = to_scalar(f"{column}[{index}]", cell, where="Table")
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"tether.Table(): row {index}, column {column!r} holds a "
                f"{type(cell).__qualname__}; a cell is a number, a str, a bool, None or a "
                f"tether.Image ({exc})"
            ) from None
        return self._checked_cell(index, column, scalar) if type(scalar) is str else scalar

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def __repr__(self) -> str:
        return f"<tether.Table {len(self.columns)} columns, {len(self.rows)} rows>"


def _checked_columns(columns: Any) -> list[str]:
    if isinstance(columns, str) or not hasattr(columns, "__iter__"):
        raise TypeError(
            f"tether.Table(): columns must be a list of str, got {type(columns).__name__}"
        )
    names = list(columns)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(
                f"tether.Table(): column name {name!r} is a {type(name).__name__}; "
                "names are str (use str(name))"
            )
        checked_utf8(name, "tether.Table() column name")
    if not names:
        raise ValueError("tether.Table(): no columns; pass at least one column name")
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"tether.Table(): column {twice[0]!r} is named twice; names are unique")
    return names
