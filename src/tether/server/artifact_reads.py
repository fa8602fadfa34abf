"""Reading artifacts back: the project's artifacts, an artifact's versions, one version.

Only committed versions exist for a reader (a pending one's blobs are not all there yet).
A ref is ``vN`` or an alias; ``latest`` is the newest committed version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, select

from tether.server.artifacts import LATEST, is_version_ref
from tether.server.queries import NotFoundError
from tether.server.storage.schema import (
    artifact_aliases,
    artifact_files,
    artifact_uses,
    artifact_versions,
    artifacts,
    runs,
)

_COMMITTED = artifact_versions.c.version.is_not(None)


def version_name(number: int) -> str:
    return f"v{number}"


def list_artifacts(
    connection: Connection, project_pk: int, kind: str | None = None
) -> list[dict[str, Any]]:
    """``[{name, type, versions, latest, aliases, updated}]`` of artifacts with a committed
    version, by name."""
    counts = (
        select(
            artifact_versions.c.artifact_id,
            func.count().label("versions"),
            func.max(artifact_versions.c.version).label("newest"),
        )
        .where(_COMMITTED)
        .group_by(artifact_versions.c.artifact_id)
        .subquery()
    )
    query = (
        select(artifacts, counts.c.versions, counts.c.newest)
        .join(counts, counts.c.artifact_id == artifacts.c.id)
        .where(artifacts.c.project_id == project_pk)
        .order_by(artifacts.c.name)
    )
    if kind is not None:
        query = query.where(artifacts.c.type == kind)
    rows = connection.execute(query).all()
    aliases = _aliases_by_artifact(connection, [int(r.id) for r in rows])
    return [
        {
            "name": r.name,
            "type": r.type,
            "versions": int(r.versions),
            "latest": version_name(int(r.newest)),
            "aliases": {LATEST: version_name(int(r.newest)), **aliases.get(int(r.id), {})},
            "updated": r.updated_at,
        }
        for r in rows
    ]


def _aliases_by_artifact(connection: Connection, ids: list[int]) -> dict[int, dict[str, str]]:
    found: dict[int, dict[str, str]] = {}
    if not ids:
        return found
    rows = connection.execute(
        select(
            artifact_aliases.c.artifact_id, artifact_aliases.c.alias, artifact_versions.c.version
        )
        .join(artifact_versions, artifact_versions.c.id == artifact_aliases.c.version_pk)
        .where(artifact_aliases.c.artifact_id.in_(ids), _COMMITTED)
        .order_by(artifact_aliases.c.alias)
    )
    for row in rows:
        found.setdefault(int(row.artifact_id), {})[row.alias] = version_name(int(row.version))
    return found


def artifact_row(connection: Connection, project_pk: int, name: str) -> Any:
    row = connection.execute(
        select(artifacts).where(artifacts.c.project_id == project_pk, artifacts.c.name == name)
    ).first()
    if row is None or _newest(connection, int(row.id)) is None:
        raise NotFoundError(f"no artifact {name!r} in this project")
    return row


def _newest(connection: Connection, artifact_pk: int) -> int | None:
    newest = connection.execute(
        select(func.max(artifact_versions.c.version)).where(
            artifact_versions.c.artifact_id == artifact_pk
        )
    ).scalar()
    return None if newest is None else int(newest)


def versions(connection: Connection, project_pk: int, name: str) -> list[dict[str, Any]]:
    """Every committed version of artifact ``name``, newest first."""
    artifact = artifact_row(connection, project_pk, name)
    rows = connection.execute(
        select(artifact_versions, runs.c.run_id, runs.c.name.label("run_name"))
        .outerjoin(runs, runs.c.id == artifact_versions.c.run_pk)
        .where(artifact_versions.c.artifact_id == artifact.id, _COMMITTED)
        .order_by(artifact_versions.c.version.desc())
    ).all()
    aliases = _aliases_of_versions(connection, int(artifact.id), rows)
    return [_version_json(row, aliases.get(int(row.id), [])) for row in rows]


def _aliases_of_versions(
    connection: Connection, artifact_pk: int, rows: Sequence[Any]
) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    newest = max((int(r.version) for r in rows), default=None)
    for row in rows:
        if newest is not None and int(row.version) == newest:
            found[int(row.id)] = [LATEST]
    for alias in connection.execute(
        select(artifact_aliases.c.alias, artifact_aliases.c.version_pk)
        .where(artifact_aliases.c.artifact_id == artifact_pk)
        .order_by(artifact_aliases.c.alias)
    ):
        found.setdefault(int(alias.version_pk), []).append(alias.alias)
    return found


def _version_json(row: Any, aliases: list[str]) -> dict[str, Any]:
    return {
        "version": version_name(int(row.version)),
        "digest": row.digest,
        "size": int(row.size),
        "files": int(row.file_count),
        "aliases": aliases,
        "created": row.created_at,
        "run": None if row.run_id is None else {"id": row.run_id, "name": row.run_name},
        "metadata": row.metadata,
    }


def resolve(connection: Connection, project_pk: int, name: str, ref: str) -> Any:
    """The committed version row that ``ref`` names (with ``run_id``, ``run_name``);
    ``NotFoundError`` naming what exists."""
    artifact = artifact_row(connection, project_pk, name)
    query = (
        select(artifact_versions, runs.c.run_id, runs.c.name.label("run_name"))
        .outerjoin(runs, runs.c.id == artifact_versions.c.run_pk)
        .where(artifact_versions.c.artifact_id == artifact.id, _COMMITTED)
    )
    if ref == LATEST:
        query = query.order_by(artifact_versions.c.version.desc()).limit(1)
    elif is_version_ref(ref):
        query = query.where(artifact_versions.c.version == int(ref[1:]))
    else:
        query = query.join(
            artifact_aliases, artifact_aliases.c.version_pk == artifact_versions.c.id
        ).where(artifact_aliases.c.alias == ref)
    row = connection.execute(query).first()
    if row is None:
        numbers = connection.execute(
            select(artifact_versions.c.version)
            .where(artifact_versions.c.artifact_id == artifact.id, _COMMITTED)
            .order_by(artifact_versions.c.version)
        ).scalars()
        names = [version_name(int(n)) for n in numbers]
        held = sorted(_aliases_by_artifact(connection, [int(artifact.id)]).get(artifact.id, {}))
        raise NotFoundError(
            f"artifact {name!r} has no version {ref!r}; versions: {', '.join(names)}; "
            f"aliases: {', '.join([LATEST, *held])}"
        )
    return row


def files_of(connection: Connection, version_pk: int) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(artifact_files)
        .where(artifact_files.c.version_pk == version_pk)
        .order_by(artifact_files.c.path)
    )
    result = []
    for row in rows:
        entry: dict[str, Any] = {"path": row.path, "size": int(row.size), "sha256": row.sha256}
        if row.chunks:
            entry["chunks"] = list(row.chunks)
        result.append(entry)
    return result


def file_row(connection: Connection, version_pk: int, path: str) -> Any:
    row = connection.execute(
        select(artifact_files).where(
            artifact_files.c.version_pk == version_pk, artifact_files.c.path == path
        )
    ).first()
    if row is None:
        raise NotFoundError(f"this artifact version has no file {path!r}")
    return row


def version_detail(connection: Connection, project_pk: int, name: str, ref: str) -> dict[str, Any]:
    """One version with its files, its producer and its consumers."""
    row = resolve(connection, project_pk, name, ref)
    rows = connection.execute(
        select(artifact_versions.c.id, artifact_versions.c.version).where(
            artifact_versions.c.artifact_id == row.artifact_id, _COMMITTED
        )
    ).all()
    aliases = _aliases_of_versions(connection, int(row.artifact_id), rows).get(int(row.id), [])
    artifact = connection.execute(select(artifacts).where(artifacts.c.id == row.artifact_id)).one()
    consumers = connection.execute(
        select(runs.c.run_id, runs.c.name)
        .join(artifact_uses, artifact_uses.c.run_pk == runs.c.id)
        .where(
            artifact_uses.c.project_id == project_pk,
            artifact_uses.c.name == name,
            artifact_uses.c.digest == row.digest,
        )
        .order_by(artifact_uses.c.time)
    )
    detail = _version_json(row, aliases)
    detail.update(
        name=artifact.name,
        type=artifact.type,
        files=files_of(connection, int(row.id)),
        file_count=int(row.file_count),
        producer=detail["run"],
        consumers=[{"id": c.run_id, "name": c.name} for c in consumers],
    )
    return detail


def of_run(connection: Connection, project_pk: int, run_pk: int) -> dict[str, Any]:
    """``{"logged": [...], "used": [...]}``: the committed versions run ``run_pk`` produced
    (oldest first), and those it used (in the order it used them, each with the ``ref`` it
    asked for); each entry a version's summary with its artifact's ``name`` and ``type``. A
    use of a version that is not (or no longer) committed is left out: nothing can be shown
    of it."""
    named = select(
        artifact_versions,
        artifacts.c.name.label("artifact_name"),
        artifacts.c.type.label("artifact_type"),
        runs.c.run_id,
        runs.c.name.label("run_name"),
    ).join(artifacts, artifacts.c.id == artifact_versions.c.artifact_id)
    logged = connection.execute(
        named.outerjoin(runs, runs.c.id == artifact_versions.c.run_pk)
        .where(
            artifact_versions.c.run_pk == run_pk, artifacts.c.project_id == project_pk, _COMMITTED
        )
        .order_by(artifact_versions.c.created_at, artifact_versions.c.id)
    ).all()
    used = connection.execute(
        named.add_columns(artifact_uses.c.ref)
        .join(
            artifact_uses,
            and_(
                artifact_uses.c.project_id == artifacts.c.project_id,
                artifact_uses.c.name == artifacts.c.name,
                artifact_uses.c.digest == artifact_versions.c.digest,
            ),
        )
        .outerjoin(runs, runs.c.id == artifact_versions.c.run_pk)
        .where(artifact_uses.c.run_pk == run_pk, artifacts.c.project_id == project_pk, _COMMITTED)
        .order_by(artifact_uses.c.time, artifacts.c.name)
    ).all()
    aliases = _aliases_of_rows(connection, [*logged, *used])

    def entry(row: Any) -> dict[str, Any]:
        found = _version_json(row, aliases.get(int(row.id), []))
        found.update(name=row.artifact_name, type=row.artifact_type)
        return found

    return {
        "logged": [entry(row) for row in logged],
        "used": [{**entry(row), "ref": row.ref} for row in used],
    }


def _aliases_of_rows(connection: Connection, rows: Sequence[Any]) -> dict[int, list[str]]:
    """The aliases of versions of any artifacts (``latest`` first where it is theirs)."""
    if not rows:
        return {}
    artifact_pks = sorted({int(r.artifact_id) for r in rows})
    newest = {
        int(artifact_pk): int(number)
        for artifact_pk, number in connection.execute(
            select(artifact_versions.c.artifact_id, func.max(artifact_versions.c.version))
            .where(artifact_versions.c.artifact_id.in_(artifact_pks), _COMMITTED)
            .group_by(artifact_versions.c.artifact_id)
        )
    }
    found: dict[int, list[str]] = {}
    for row in rows:
        if newest.get(int(row.artifact_id)) == int(row.version):
            found[int(row.id)] = [LATEST]
    for alias in connection.execute(
        select(artifact_aliases.c.alias, artifact_aliases.c.version_pk)
        .where(artifact_aliases.c.version_pk.in_(sorted({int(r.id) for r in rows})))
        .order_by(artifact_aliases.c.alias)
    ):
        found.setdefault(int(alias.version_pk), []).append(alias.alias)
    return found
