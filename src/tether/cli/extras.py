"""A command whose optional dependency is missing says which extra installs it (a traceback
ending in ``ModuleNotFoundError`` tells a new user nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import click

# Modules of the optional extras, by the extra that installs them (pyproject.toml).
EXTRA_OF_MODULE: Final = {"psycopg": "postgres", "pyarrow": "parquet", "pynvml": "gpu"}
# Default dependencies: missing only from a broken or --no-deps install.
CORE_MODULES: Final = frozenset(
    {"fastapi", "starlette", "pydantic", "uvicorn", "sqlalchemy", "alembic", "numpy", "pandas"}
)


@contextmanager
def extras_needed(command: str) -> Iterator[None]:
    """Turn a missing optional module into a one-line error naming the extra to install."""
    try:
        yield
    except ModuleNotFoundError as exc:
        module = (exc.name or "").split(".")[0]
        extra = EXTRA_OF_MODULE.get(module)
        if extra is not None:
            raise click.ClickException(
                f"{command} needs {module}, which the '{extra}' extra installs: "
                f"pip install 'tether[{extra}]'"
            ) from None
        if module in CORE_MODULES:
            raise click.ClickException(
                f"{command} needs {module}, a dependency of tether missing from this "
                "environment: pip install --force-reinstall tether"
            ) from None
        raise
