"""Artifact operations written to the database, and versions committed when their blobs are in.

A ``log`` makes a *pending* version (no number, invisible to every read) with its files and
the blobs they need (``artifact_blobs``). The version *commits* when every one of those blobs
is linked to a run of its project (``run_blobs``: that run sent the bytes, hashed and checked;
usually the producing run itself): it takes ``artifacts.next_version`` as its number, moving
that counter with an optimistic ``UPDATE ... WHERE next_version = <read>`` so two server
processes cannot hand out one number twice (the loser's transaction fails; its client
retries). A commit is tried when the record arrives, and again whenever a blob arrives that a
pending version of that run's project needs (``commit_waiting``): the client usually sends
the blobs first, so most versions commit at once; the direct-to-S3 path and an interrupted
upload commit on the last blob.

A second run that logs the same files (same name, same digest) while the first run's version
is still pending adds no version: one digest is one version. Its bytes complete that pending
version, which is why a blob of *any* run of the project counts: were only the producer's
counted, a producer that crashed before sending its blobs would leave the version pending
forever, and the second run's upload, complete, would never become visible. Within an owner
this proves no less than before: ``owner_blobs`` links a blob any run of the owner sent.

``latest`` is not stored: it is the newest committed version, whatever was deleted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tether.server.artifacts import LATEST, AliasOp, ArtifactOp, LogOp, UseOp
from tether.server.storage.schema import (
    artifact_aliases,
    artifact_blobs,
    artifact_files,
    artifact_uses,
    artifact_versions,
    artifacts,
    run_blobs,
    runs,
)


class VersionRaceError(Exception):
    """Another transaction numbered a version of this artifact meanwhile: retry."""


def store_ops(connection: Connection, run: Any, ops: Sequence[ArtifactOp], now: float) -> None:
    """Apply one upload's artifact operations of run ``run`` (a ``runs`` row), in order."""
    for op in ops:
        if isinstance(op, LogOp):
            _log(connection, run, op, now)
        elif isinstance(op, UseOp):
            _use(connection, run, op)
        else:
            _alias(connection, run, op, now)


def _artifact(connection: Connection, project_pk: int, name: str, kind: str, now: float) -> Any:
    query = select(artifacts).where(artifacts.c.project_id == project_pk, artifacts.c.name == name)
    row = connection.execute(query).first()
    if row is None:
        connection.execute(
            insert(artifacts).values(
                project_id=project_pk,
                name=name,
                type=kind,
                next_version=0,
                created_at=now,
                updated_at=now,
            )
        )
        row = connection.execute(query).one()
    elif row.type != kind:
        connection.execute(update(artifacts).where(artifacts.c.id == row.id).values(type=kind))
    return row


def _log(connection: Connection, run: Any, op: LogOp, now: float) -> None:
    artifact = _artifact(connection, int(run.project_id), op.name, op.type, now)
    found = connection.execute(
        select(artifact_versions).where(
            artifact_versions.c.artifact_id == artifact.id,
            artifact_versions.c.digest == op.digest,
        )
    ).first()
    if found is not None:  # the same files again: that version, its aliases moved
        _want_aliases(connection, found, op.aliases, now)
        if found.version is None:  # pending: this run's blobs may be the ones it lacks
            if found.run_pk is None:  # its producer was deleted: this run produced it now
                connection.execute(
                    update(artifact_versions)
                    .where(artifact_versions.c.id == found.id)
                    .values(run_pk=run.id)
                )
            try_commit(connection, int(found.id), now)
        return
    result = connection.execute(
        insert(artifact_versions).values(
            artifact_id=artifact.id,
            version=None,
            digest=op.digest,
            run_pk=run.id,
            metadata=op.metadata,
            size=sum(f.size for f in op.files),
            file_count=len(op.files),
            wanted_aliases=[a for a in op.aliases if a != LATEST],
            logged_at=op.time,
            created_at=None,
        )
    )
    inserted = result.inserted_primary_key
    assert inserted is not None
    version_pk = int(inserted[0])
    if op.files:
        connection.execute(
            insert(artifact_files),
            [
                {
                    "version_pk": version_pk,
                    "path": f.path,
                    "size": f.size,
                    "sha256": f.sha256,
                    "chunks": f.chunks,
                }
                for f in op.files
            ],
        )
        needed = dict.fromkeys(sha for f in op.files for sha in f.blobs())
        connection.execute(
            insert(artifact_blobs), [{"version_pk": version_pk, "sha256": s} for s in needed]
        )
    try_commit(connection, version_pk, now)


def _use(connection: Connection, run: Any, op: UseOp) -> None:
    key = (
        artifact_uses.c.run_pk == run.id,
        artifact_uses.c.name == op.name,
        artifact_uses.c.digest == op.digest,
    )
    if connection.execute(select(artifact_uses.c.ref).where(*key)).first() is None:
        connection.execute(
            insert(artifact_uses).values(
                run_pk=run.id,
                project_id=run.project_id,
                name=op.name,
                digest=op.digest,
                ref=op.ref,
                time=op.time,
            )
        )


def _alias(connection: Connection, run: Any, op: AliasOp, now: float) -> None:
    version = connection.execute(
        select(artifact_versions)
        .join(artifacts, artifacts.c.id == artifact_versions.c.artifact_id)
        .where(
            artifacts.c.project_id == run.project_id,
            artifacts.c.name == op.name,
            artifact_versions.c.digest == op.digest,
        )
    ).first()
    if version is None or op.alias == LATEST:
        return  # nothing to move (a version deleted meanwhile); latest is the newest always
    if op.remove:
        connection.execute(
            delete(artifact_aliases).where(
                artifact_aliases.c.artifact_id == version.artifact_id,
                artifact_aliases.c.alias == op.alias,
                artifact_aliases.c.version_pk == version.id,
            )
        )
        wanted = [a for a in version.wanted_aliases if a != op.alias]
        if wanted != list(version.wanted_aliases):
            connection.execute(
                update(artifact_versions)
                .where(artifact_versions.c.id == version.id)
                .values(wanted_aliases=wanted)
            )
        return
    _want_aliases(connection, version, [op.alias], now)


def _want_aliases(connection: Connection, version: Any, aliases: list[str], now: float) -> None:
    aliases = [a for a in aliases if a != LATEST]
    if not aliases:
        return
    if version.version is None:  # pending: set when it commits
        wanted = list(dict.fromkeys([*version.wanted_aliases, *aliases]))
        connection.execute(
            update(artifact_versions)
            .where(artifact_versions.c.id == version.id)
            .values(wanted_aliases=wanted)
        )
        return
    for alias in aliases:
        set_alias(connection, int(version.artifact_id), alias, int(version.id), now)


def set_alias(
    connection: Connection, artifact_pk: int, alias: str, version_pk: int, now: float
) -> None:
    """Point ``alias`` of the artifact at a version (moving it from any other)."""
    key = (artifact_aliases.c.artifact_id == artifact_pk, artifact_aliases.c.alias == alias)
    if connection.execute(select(artifact_aliases.c.version_pk).where(*key)).first() is None:
        connection.execute(
            insert(artifact_aliases).values(
                artifact_id=artifact_pk, alias=alias, version_pk=version_pk, updated_at=now
            )
        )
    else:
        connection.execute(
            update(artifact_aliases).where(*key).values(version_pk=version_pk, updated_at=now)
        )


def try_commit(connection: Connection, version_pk: int, now: float) -> bool:
    """Commit the pending version if runs of its project hold every blob it needs; True when
    it did."""
    version = connection.execute(
        select(artifact_versions, artifacts.c.project_id)
        .join(artifacts, artifacts.c.id == artifact_versions.c.artifact_id)
        .where(artifact_versions.c.id == version_pk)
    ).first()
    if version is None or version.version is not None:
        return False
    # The producer's own blobs first: one indexed query settles the usual case.
    lacking = list(
        connection.execute(
            select(artifact_blobs.c.sha256).where(
                artifact_blobs.c.version_pk == version_pk,
                ~exists().where(
                    and_(
                        run_blobs.c.run_pk == version.run_pk,
                        run_blobs.c.sha256 == artifact_blobs.c.sha256,
                    )
                ),
            )
        ).scalars()
    )
    if lacking and not _held_in_project(connection, int(version.project_id), lacking):
        return False
    number = connection.execute(
        select(artifacts.c.next_version).where(artifacts.c.id == version.artifact_id)
    ).scalar_one()
    moved = connection.execute(
        update(artifacts)
        .where(artifacts.c.id == version.artifact_id, artifacts.c.next_version == number)
        .values(next_version=number + 1, updated_at=now)
    ).rowcount
    if moved != 1:
        raise VersionRaceError(f"artifact {version.artifact_id} numbered a version meanwhile")
    connection.execute(
        update(artifact_versions)
        .where(artifact_versions.c.id == version_pk)
        .values(version=number, created_at=now, wanted_aliases=[])
    )
    for alias in version.wanted_aliases:
        set_alias(connection, int(version.artifact_id), alias, version_pk, now)
    return True


def _held_in_project(connection: Connection, project_pk: int, hashes: list[str]) -> bool:
    """Whether runs of the project sent every blob of ``hashes``. The first is asked alone:
    while an upload is under way it is usually missing, and one small query says so."""
    batches = [hashes[:1], *(hashes[i : i + 500] for i in range(1, len(hashes), 500))]
    for batch in batches:
        held = connection.execute(
            select(func.count(run_blobs.c.sha256.distinct()))
            .join(runs, runs.c.id == run_blobs.c.run_pk)
            .where(runs.c.project_id == project_pk, run_blobs.c.sha256.in_(batch))
        ).scalar_one()
        if held < len(set(batch)):
            return False
    return True


def commit_waiting(connection: Connection, run_pk: int, sha256: str, now: float) -> int:
    """Try to commit the pending versions of run ``run_pk``'s project that need blob
    ``sha256`` (it just arrived); returns how many committed."""
    project_pk = select(runs.c.project_id).where(runs.c.id == run_pk).scalar_subquery()
    pending = connection.execute(
        select(artifact_versions.c.id)
        .join(artifact_blobs, artifact_blobs.c.version_pk == artifact_versions.c.id)
        .join(artifacts, artifacts.c.id == artifact_versions.c.artifact_id)
        .where(
            artifacts.c.project_id == project_pk,
            artifact_versions.c.version.is_(None),
            artifact_blobs.c.sha256 == sha256,
        )
        .order_by(artifact_versions.c.logged_at, artifact_versions.c.id)
    ).scalars()
    return sum(try_commit(connection, int(pk), now) for pk in list(pending))


def commit_after_blob(engine: Engine, run_pk: int, sha256: str) -> int:
    """``commit_waiting`` in its own transaction, retried when another process numbered a
    version meanwhile; returns how many versions committed."""
    for attempt in range(5):
        try:
            with engine.begin() as connection:
                return commit_waiting(connection, run_pk, sha256, time.time())
        except (VersionRaceError, IntegrityError):
            if attempt == 4:
                raise
    raise AssertionError("unreachable")
