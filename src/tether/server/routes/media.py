"""Media and their bytes: ``blobs/missing``, ``PUT``/``GET blobs/{sha256}``, and ``media``.

A client sends a run's blobs before the segment bytes that name them: it asks which of its
hashes the run lacks (``POST .../blobs/missing``), then PUTs each. The body streams into the
blob store (``tether.server.media_blobs``), hashed as it comes: 422 when it does not hash to
its name, 413 past ``MAX_BLOB_BYTES``. A blob is served only to those who may read its run,
and only once that run sent it; its bytes never change, so caches keep them for a year.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import anyio
import anyio.from_thread
import anyio.to_thread
from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from tether.server import direct_blobs, media_blobs, media_reads, owner_blobs, queries
from tether.server.access import ReadOwner, WriteOwner
from tether.server.artifact_store import VersionRaceError, commit_after_blob
from tether.server.auth import User
from tether.server.blobs import SHA256_PATTERN, BlobMismatchError, BlobStore, BlobTooLargeError
from tether.server.deps import EngineDep, UserDep
from tether.server.ingest import upload_run
from tether.server.ingest_checks import KEY_CHARS
from tether.server.media_blobs import MAX_BLOB_BYTES, MAX_MISSING_ASKED, OCTET_STREAM
from tether.server.routes.ingest import BINARY_BODY, ProjectPath, RunPath
from tether.server.routes.runs import NO_NUL
from tether.server.upload_limits import RETRY_AFTER_S, UploadSlots

router = APIRouter()

RUN = "/projects/{project}/runs/{run_id}"
Sha256Path = Annotated[
    str, Path(pattern=SHA256_PATTERN, description="The blob's sha256 (64 lowercase hex).")
]
KeyQuery = Annotated[str, Query(min_length=1, max_length=KEY_CHARS, pattern=NO_NUL)]
IMMUTABLE = "private, max-age=31536000, immutable"


class MissingQuestion(BaseModel):
    sha256: list[Annotated[str, Field(pattern=SHA256_PATTERN)]] = Field(
        max_length=MAX_MISSING_ASKED, description="Hashes of blobs the client has."
    )


@router.post(f"{RUN}/blobs/missing")
def missing_blobs(
    request: Request,
    project: ProjectPath,
    run_id: RunPath,
    question: Annotated[MissingQuestion, Body()],
    owner: WriteOwner,
    engine: EngineDep,
) -> Any:
    """Which of these blobs the run has not sent yet (all of them for a run not seen yet);
    those another run of the owner sent are linked at once (``owner_blobs``);
    with an S3 store, ``upload_urls`` and ``upload_staging``: presigned PUT URLs to staging
    objects, and their ids, for those the store lacks (``tether.server.direct_blobs``)."""
    import time

    try:
        with engine.begin() as connection:
            try:
                row = queries.run_row(connection, owner, project, run_id)
            except queries.NotFoundError:
                row = None
            lacking = (
                list(dict.fromkeys(question.sha256))
                if row is None
                else media_blobs.missing(connection, row.id, question.sha256)
            )
            held = owner_blobs.held_by_owner(connection, owner.id, lacking)
            if held:
                if row is None:
                    row = upload_run(connection, owner, project, run_id, time.time())
                owner_blobs.link_owned(connection, row, held)
                lacking = [sha for sha in lacking if sha not in held]
    except (IntegrityError, OperationalError, VersionRaceError) as exc:
        return _busy(f"the database is busy ({exc}); retry")
    with engine.connect() as connection:
        answer: dict[str, Any] = {"missing": lacking}
        urls = direct_blobs.upload_urls(connection, request.app.state.blob_store, lacking)
    if urls.urls:
        answer["upload_urls"] = urls.urls
        answer["upload_staging"] = urls.staging
    return answer


@router.put(
    f"{RUN}/blobs/{{sha256}}",
    openapi_extra=BINARY_BODY,
    responses={
        413: {"description": "Over the blob size limit; `limit` says how many bytes fit."},
        422: {"description": "The bytes do not hash to `sha256`."},
        429: {"description": "Too many uploads in flight: retry after `Retry-After` s."},
    },
)
async def put_blob(
    request: Request,
    project: ProjectPath,
    run_id: RunPath,
    sha256: Sha256Path,
    owner: WriteOwner,
    caller: UserDep,
    engine: EngineDep,
) -> Any:
    """Store the body as blob ``sha256`` of the run (made if new); idempotent."""
    limit = MAX_BLOB_BYTES
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return _too_large(limit)
    slots: UploadSlots = request.app.state.upload_slots
    if not slots.take(caller.id):
        return JSONResponse(
            {
                "detail": f"{slots.per_user} uploads of user {caller.name} are in flight "
                f"already; retry after {RETRY_AFTER_S} s",
                "retry_after": RETRY_AFTER_S,
            },
            status_code=429,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    try:
        return await _put_blob(request, engine, owner, project, run_id, sha256, limit)
    finally:
        slots.give_back(caller.id)


async def _put_blob(
    request: Request,
    engine: Engine,
    owner: User,
    project: str,
    run_id: str,
    sha256: str,
    limit: int,
) -> Any:
    import time

    try:
        run = await run_in_threadpool(_upload_run, engine, owner, project, run_id, time.time())
    except IntegrityError:  # a concurrent first upload made the same run: it is there now
        return JSONResponse({"detail": "a concurrent upload created this run; retry"}, 409)
    except OperationalError as exc:
        return _busy(f"the database is busy ({exc.orig}); retry")
    store: BlobStore = request.app.state.blob_store
    media_type = media_blobs.media_type_of(request.headers.get("content-type"))
    chunks = _body_chunks(request.stream())
    try:
        received = await anyio.to_thread.run_sync(
            lambda: media_blobs.receive(
                engine, store, run.id, sha256, chunks, media_type=media_type, limit=limit
            )
        )
    except BlobTooLargeError:
        return _too_large(limit)
    except BlobMismatchError as exc:
        return JSONResponse(
            {"detail": str(exc), "sha256": exc.actual, "size": exc.size}, status_code=422
        )
    except ClientDisconnect:
        return Response(status_code=400)
    except (OSError, OperationalError, IntegrityError) as exc:
        return _busy(f"the blob store or database cannot take the blob now ({exc}); retry")
    return await _linked(engine, run.id, sha256, received)


async def _linked(engine: Engine, run_pk: int, sha256: str, received: Any) -> Any:
    """The answer to a blob now linked to the run, once the artifact versions it completes
    are committed."""
    if received.created:
        try:
            await run_in_threadpool(commit_after_blob, engine, run_pk, sha256)
        except (OperationalError, IntegrityError, VersionRaceError) as exc:
            return _busy(f"the database is busy ({exc}); retry")
    return JSONResponse(
        {"sha256": sha256, "size": received.size}, status_code=201 if received.created else 200
    )


class UploadedNote(BaseModel):
    media_type: str | None = Field(default=None, max_length=128, description="image/png...")
    staging: str = Field(
        pattern="^[0-9a-f]{32}$",
        description="the staging id that blobs/missing answered with the PUT URL",
    )


@router.post(f"{RUN}/blobs/{{sha256}}/uploaded")
async def blob_uploaded(
    request: Request,
    project: ProjectPath,
    run_id: RunPath,
    sha256: Sha256Path,
    owner: WriteOwner,
    engine: EngineDep,
    body: Annotated[UploadedNote, Body()],
) -> Any:
    """The client PUT blob ``sha256`` straight into the S3 store (a URL and staging id from
    ``blobs/missing``): the server moves the staged object out of the URL's reach, hashes
    it, makes it the blob and links it to the run."""
    import time

    store: BlobStore = request.app.state.blob_store
    media_type = media_blobs.media_type_of(body.media_type)
    try:
        run = await run_in_threadpool(_upload_run, engine, owner, project, run_id, time.time())
        received = await run_in_threadpool(
            lambda: direct_blobs.verify_and_link(
                engine, store, run.id, sha256, body.staging, media_type=media_type
            )
        )
    except FileNotFoundError:
        raise queries.NotFoundError(f"the store holds no object for blob {sha256}") from None
    except direct_blobs.HeldAlreadyError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=409)
    except BlobTooLargeError:
        return _too_large(MAX_BLOB_BYTES)
    except BlobMismatchError as exc:
        return JSONResponse(
            {"detail": str(exc), "sha256": exc.actual, "size": exc.size}, status_code=422
        )
    except (OSError, OperationalError, IntegrityError) as exc:
        return _busy(f"the blob store or database cannot take the blob now ({exc}); retry")
    return await _linked(engine, run.id, sha256, received)


def _upload_run(engine: Engine, owner: User, project: str, run_id: str, now: float) -> Any:
    for attempt in range(3):
        try:
            with engine.begin() as connection:
                return upload_run(connection, owner, project, run_id, now)
        except IntegrityError:  # blobs of a new run arrive in parallel: one of them made it
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _body_chunks(stream: AsyncIterator[bytes]) -> Iterator[bytes]:
    """The request body's chunks, read from a worker thread (the event loop reads them)."""

    async def next_chunk() -> bytes | None:
        try:
            return await stream.__anext__()
        except StopAsyncIteration:
            return None

    while (chunk := anyio.from_thread.run(next_chunk)) is not None:
        yield chunk


def _busy(detail: str) -> JSONResponse:
    return JSONResponse(
        {"detail": detail, "retry_after": RETRY_AFTER_S},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"detail": f"a blob is at most {limit} bytes; this one is larger", "limit": limit},
        status_code=413,
    )


@router.get(f"{RUN}/blobs/{{sha256}}", response_class=Response)
def get_blob(
    request: Request,
    project: ProjectPath,
    run_id: RunPath,
    sha256: Sha256Path,
    owner: ReadOwner,
    engine: EngineDep,
) -> Response:
    """The blob's bytes, if this run sent them (404 otherwise, as for a run one cannot see)."""
    with engine.connect() as connection:
        run = queries.run_row(connection, owner, project, run_id)
        link = media_blobs.run_blob(connection, run.id, sha256)
    if link is None:
        raise queries.NotFoundError(f"run {run_id!r} holds no blob {sha256}")
    etag = f'"{sha256}"'
    headers = {"Cache-Control": IMMUTABLE, "ETag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    store: BlobStore = request.app.state.blob_store
    try:
        chunks = store.open(sha256)
    except FileNotFoundError as exc:  # linked, yet gone from the store (deleted by hand)
        raise queries.NotFoundError(f"blob {sha256} is missing from the blob store") from exc
    except OSError as exc:
        return _busy(f"the blob store cannot be read now ({exc}); retry")
    media_type = link.media_type
    if media_type not in media_blobs.SERVED_MEDIA_TYPES:
        media_type = OCTET_STREAM
    headers["Content-Length"] = str(int(link.size))
    return StreamingResponse(chunks, media_type=media_type, headers=headers)


@router.get(f"{RUN}/media/keys")
def media_keys(
    project: ProjectPath, run_id: RunPath, owner: ReadOwner, engine: EngineDep
) -> list[dict[str, Any]]:
    """Each media key of the run: its kind, how many objects, first and last step."""
    with engine.connect() as connection:
        run = queries.run_row(connection, owner, project, run_id)
        return media_reads.media_keys(connection, run.id)


@router.get(f"{RUN}/media")
def media_items(
    project: ProjectPath,
    run_id: RunPath,
    owner: ReadOwner,
    engine: EngineDep,
    key: KeyQuery,
    step: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    writer: Annotated[str | None, Query(max_length=128, pattern=NO_NUL)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> list[dict[str, Any]]:
    """The objects logged under ``key`` (all steps, or one), by step, writer and index."""
    with engine.connect() as connection:
        run = queries.run_row(connection, owner, project, run_id)
        return media_reads.media_items(
            connection, run.id, key, step=step, writer=writer, limit=limit, offset=offset
        )


@router.get(f"{RUN}/media/steps")
def media_steps(
    project: ProjectPath, run_id: RunPath, owner: ReadOwner, engine: EngineDep, key: KeyQuery
) -> list[int]:
    """The steps at which ``key`` has media, in order (the UI's slider)."""
    with engine.connect() as connection:
        run = queries.run_row(connection, owner, project, run_id)
        return media_reads.media_steps(connection, run.id, key)
