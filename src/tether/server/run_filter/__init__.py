"""Run filters: one grammar (``parse``) evaluated in SQL on SQLite and PostgreSQL (``sql``).

>>> condition = to_sql(parse('config.lr < 0.05 and state = finished'), dialect="sqlite",
...                    owner="alice")  # doctest: +SKIP
"""

from tether.server.run_filter.parse import FilterError, parse
from tether.server.run_filter.sql import sqlite_regexp, to_sql

__all__ = ["FilterError", "parse", "sqlite_regexp", "to_sql"]
