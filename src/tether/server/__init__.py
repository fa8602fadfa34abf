"""The tether server: FastAPI over SQLAlchemy Core (SQLite by default, PostgreSQL to scale).

Stateless apart from the database and the file store, so several server processes can serve
one database. Needs the ``server`` extra: ``pip install 'tether[server]'``.
"""
