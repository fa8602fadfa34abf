"""Artifacts: a project's artifacts, their versions, files and aliases (``docs/api.md``).

Versions arrive as ``K_ARTIFACT`` records in segments (``tether.server.artifact_store``);
these routes read them, stream their files (chunks concatenated, one at a time, so memory
stays bounded whatever the size) and move aliases. Reads need a viewer's role in the
namespace, writes (aliases, deleting a version) a member's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import delete

from tether.server import artifact_reads, queries
from tether.server.access import ReadOwner, WriteOwner
from tether.server.artifact_store import set_alias
from tether.server.artifacts import (
    LATEST,
    NAME_PATTERN,
    PATH_CHARS,
    TYPE_CHARS,
    is_version_ref,
)
from tether.server.blobs import BlobStore
from tether.server.deps import EngineDep
from tether.server.routes.ingest import ProjectPath, RunPath
from tether.server.routes.runs import NO_NUL
from tether.server.storage.schema import (
    artifact_aliases,
    artifact_blobs,
    artifact_files,
    artifact_versions,
)

router = APIRouter()

ART = "/projects/{project}/artifacts"
NamePath = Annotated[str, Path(pattern=NAME_PATTERN, description="The artifact's name.")]
RefPath = Annotated[
    str, Path(pattern=NAME_PATTERN, description="A version (v0, v1, ...) or an alias (latest).")
]
AliasPath = Annotated[str, Path(pattern=NAME_PATTERN, description="An alias (best, prod...).")]
VersionPath = Annotated[
    str, Path(pattern=r"^v(0|[1-9][0-9]{0,9})$", description="A version: v0, v1, ...")
]
FilePath = Annotated[
    str, Path(max_length=PATH_CHARS, pattern=NO_NUL, description="The file's path in it.")
]
# How long a presigned URL handed out works (a 2 GB file on a slow link fits in it).
URL_SECONDS = 3600


@router.get(ART)
def list_artifacts(
    project: ProjectPath,
    owner: ReadOwner,
    engine: EngineDep,
    type: Annotated[str | None, Query(min_length=1, max_length=TYPE_CHARS, pattern=NO_NUL)] = None,
) -> list[dict[str, Any]]:
    """The project's artifacts (those with a committed version), by name."""
    with engine.connect() as connection:
        pk = queries.project_pk(connection, owner, project)
        return artifact_reads.list_artifacts(connection, pk, type)


@router.get("/projects/{project}/runs/{run_id}/artifacts")
def run_artifacts(
    project: ProjectPath, run_id: RunPath, owner: ReadOwner, engine: EngineDep
) -> dict[str, Any]:
    """The committed versions the run logged and those it used, in one answer (the run
    page's artifacts tab); 404 for a run the caller cannot read, as for the run itself."""
    with engine.connect() as connection:
        run = queries.run_row(connection, owner, project, run_id)
        return artifact_reads.of_run(connection, int(run.project_id), int(run.id))


@router.get(f"{ART}/{{name}}/versions")
def artifact_versions_list(
    project: ProjectPath, name: NamePath, owner: ReadOwner, engine: EngineDep
) -> list[dict[str, Any]]:
    """Every committed version of the artifact, newest first."""
    with engine.connect() as connection:
        pk = queries.project_pk(connection, owner, project)
        return artifact_reads.versions(connection, pk, name)


@router.get(f"{ART}/{{name}}/{{ref}}")
def artifact_version(
    request: Request,
    project: ProjectPath,
    name: NamePath,
    ref: RefPath,
    owner: ReadOwner,
    engine: EngineDep,
    urls: Annotated[bool, Query(description="Presigned GET URLs per file (S3 store).")] = False,
) -> dict[str, Any]:
    """One version (``vN`` or an alias): its files, producer and consumers. With
    ``urls=true`` and an S3 blob store, each file has ``urls``: a presigned GET URL per blob
    (its chunks in order), so its bytes come straight from the store."""
    with engine.connect() as connection:
        pk = queries.project_pk(connection, owner, project)
        detail = artifact_reads.version_detail(connection, pk, name, ref)
    store: BlobStore = request.app.state.blob_store
    if urls:
        for entry in detail["files"]:
            signed = [
                store.presign(sha, "GET", expires_s=URL_SECONDS)
                for sha in entry.get("chunks") or [entry["sha256"]]
            ]
            if all(signed):
                entry["urls"] = signed
    return detail


@router.get(f"{ART}/{{name}}/{{ref}}/files/{{path:path}}", response_class=Response)
def artifact_file(
    request: Request,
    project: ProjectPath,
    name: NamePath,
    ref: RefPath,
    path: FilePath,
    owner: ReadOwner,
    engine: EngineDep,
    redirect: Annotated[bool, Query(description="307 to the store (S3, one-blob files).")] = False,
) -> Response:
    """The file's bytes, streamed (its chunks one after the other)."""
    with engine.connect() as connection:
        pk = queries.project_pk(connection, owner, project)
        version = artifact_reads.resolve(connection, pk, name, ref)
        row = artifact_reads.file_row(connection, int(version.id), path)
    store: BlobStore = request.app.state.blob_store
    blobs = list(row.chunks) if row.chunks else [row.sha256]
    if redirect and len(blobs) == 1:
        signed = store.presign(blobs[0], "GET", expires_s=URL_SECONDS)
        if signed is not None:
            return RedirectResponse(signed, status_code=307)
    try:
        first = store.open(blobs[0])  # a store that is down answers now, not mid-stream
    except FileNotFoundError as exc:
        raise queries.NotFoundError(f"a blob of {path!r} is missing from the blob store") from exc
    except OSError as exc:
        return JSONResponse(
            {"detail": f"the blob store cannot be read now ({exc}); retry", "retry_after": 5},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    filename = path.rsplit("/", 1)[-1]
    headers = {
        "Content-Length": str(int(row.size)),
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
        "ETag": f'"{row.sha256}"',
        "Cache-Control": "private, max-age=31536000, immutable",
    }
    return StreamingResponse(
        _concatenated(store, first, blobs[1:]),
        media_type="application/octet-stream",
        headers=headers,
    )


def _concatenated(store: BlobStore, first: Iterator[bytes], rest: list[str]) -> Iterator[bytes]:
    yield from first
    for sha in rest:
        yield from store.open(sha)


class AliasBody(BaseModel):
    version: str = Field(pattern=r"^v(0|[1-9][0-9]{0,9})$", description="v0, v1, ...")


@router.put(f"{ART}/{{name}}/aliases/{{alias}}")
def put_alias(
    project: ProjectPath,
    name: NamePath,
    alias: AliasPath,
    body: Annotated[AliasBody, Body()],
    owner: WriteOwner,
    engine: EngineDep,
) -> Any:
    """Point ``alias`` at a version (moving it from any other)."""
    refused = _refused_alias(alias)
    if refused is not None:
        return refused
    with engine.begin() as connection:
        pk = queries.project_pk(connection, owner, project)
        version = artifact_reads.resolve(connection, pk, name, body.version)
        set_alias(connection, int(version.artifact_id), alias, int(version.id), time.time())
    return {"alias": alias, "version": body.version}


@router.delete(f"{ART}/{{name}}/aliases/{{alias}}")
def delete_alias(
    project: ProjectPath, name: NamePath, alias: AliasPath, owner: WriteOwner, engine: EngineDep
) -> Any:
    """Remove ``alias`` (404 when the artifact has no such alias)."""
    refused = _refused_alias(alias)
    if refused is not None:
        return refused
    with engine.begin() as connection:
        pk = queries.project_pk(connection, owner, project)
        artifact = artifact_reads.artifact_row(connection, pk, name)
        gone = connection.execute(
            delete(artifact_aliases).where(
                artifact_aliases.c.artifact_id == artifact.id, artifact_aliases.c.alias == alias
            )
        ).rowcount
    if not gone:
        raise queries.NotFoundError(f"artifact {name!r} has no alias {alias!r}")
    return {"alias": alias, "deleted": True}


def _refused_alias(alias: str) -> JSONResponse | None:
    if alias == LATEST:
        return JSONResponse(
            {"detail": "alias 'latest' always names the newest version; it cannot be moved"},
            status_code=422,
        )
    if is_version_ref(alias) or alias in (".", "..", "versions", "aliases"):
        return JSONResponse(
            {"detail": f"alias {alias!r} is reserved (a version number or a route's name)"},
            status_code=422,
        )
    return None


@router.delete(f"{ART}/{{name}}/{{version}}")
def delete_version(
    project: ProjectPath, name: NamePath, version: VersionPath, owner: WriteOwner, engine: EngineDep
) -> dict[str, Any]:
    """Remove the version's record (its aliases go with it; its blobs at the next GC). Its
    number is never given again."""
    with engine.begin() as connection:
        pk = queries.project_pk(connection, owner, project)
        row = artifact_reads.resolve(connection, pk, name, version)
        # Each dependent table by hand: SQLite enforces no foreign key here.
        for table in (artifact_aliases, artifact_files, artifact_blobs):
            connection.execute(delete(table).where(table.c.version_pk == row.id))
        connection.execute(delete(artifact_versions).where(artifact_versions.c.id == row.id))
    return {"version": version, "deleted": True}
