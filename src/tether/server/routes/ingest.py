"""Uploads: segment bytes in, idempotently (see ``tether.server.ingest``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from tether.server.access import ReadOwner, WriteOwner
from tether.server.auth import User
from tether.server.deps import ID_PATTERN, PROJECT_PATTERN, EngineDep, UserDep
from tether.server.ingest import IngestError, Skip, ingest_segment
from tether.server.queries import segment_offsets
from tether.server.upload_limits import RETRY_AFTER_S, UploadSlots, pieces
from tether.store.states import RunState

router = APIRouter()

ProjectPath = Annotated[str, Path(pattern=PROJECT_PATTERN, description="Project name.")]
RunPath = Annotated[str, Path(pattern=ID_PATTERN, description="Run id.")]
WriterPath = Annotated[str, Path(pattern=ID_PATTERN, description="Writer id.")]


# The OpenAPI body of a PUT whose body is raw bytes (segments, blobs): read from the request
# stream, so FastAPI cannot infer it.
BINARY_BODY: dict[str, Any] = {
    "requestBody": {
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        "required": False,
    }
}


@router.put(
    "/projects/{project}/runs/{run_id}/segments/{writer_id}",
    openapi_extra=BINARY_BODY,
    responses={
        409: {"description": "Resume from the offset in the body."},
        413: {"description": "Over the body limit; `limit` says how many bytes fit."},
        429: {"description": "Too many uploads in flight: retry after `Retry-After` s."},
        422: {"description": "Refused; `frame_offset`, `seq`, `row` and `field` say where."},
    },
)
async def upload_segment(
    request: Request,
    project: ProjectPath,
    run_id: RunPath,
    writer_id: WriterPath,
    owner: WriteOwner,
    caller: UserDep,
    engine: EngineDep,
    offset: Annotated[int, Query(ge=0, le=2**53, description="Byte offset of the body.")] = 0,
    state: Annotated[str | None, Query(pattern=f"^{RunState.CRASHED.value}$")] = None,
    end: Annotated[
        int | None,
        Query(ge=0, le=2**53, description="The file offset the body's records end at."),
    ] = None,
    skipped_records: Annotated[
        int, Query(ge=0, le=2**31, description="Records left out before `end`.")
    ] = 0,
    skipped_bytes: Annotated[int, Query(ge=0, le=2**53, description="Their size.")] = 0,
    skip_reason: Annotated[
        str | None, Query(max_length=1000, pattern=r"^[^\x00]*$", description="Why.")
    ] = None,
) -> Any:
    skip_args = (skipped_records, skipped_bytes, skip_reason)
    slots: UploadSlots = request.app.state.upload_slots
    if not slots.take(caller.id):  # per person (the key's user), whichever namespace
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
        return await _upload(
            request, engine, owner, project, run_id, writer_id, offset, state, end, skip_args
        )
    finally:
        slots.give_back(caller.id)


async def _upload(
    request: Request,
    engine: Engine,
    owner: User,
    project: str,
    run_id: str,
    writer_id: str,
    offset: int,
    state: str | None,
    end: int | None,
    skip_args: tuple[int, int, str | None],
) -> Any:
    limit: int = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return _too_large(f"body of {declared} bytes", limit)
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            return _too_large("body", limit)
    if end is not None and end < offset:
        raise HTTPException(422, f"end {end} is before offset {offset}; end must be >= offset")
    skipped_records, skipped_bytes, skip_reason = skip_args
    skip = None
    if skipped_records or skipped_bytes or skip_reason:
        if end is None:
            raise HTTPException(422, "skipped_* and skip_reason need end (where the skip ends)")
        skip = Skip(skipped_records, skipped_bytes, skip_reason or "refused by the server")
    # Bytes standing for other bytes (end=) are small repairs, stored as one piece.
    ranges = [(0, len(body))] if end is not None else list(pieces(body, offset))
    records = duplicates = 0
    result = None
    for number, (start, stop) in enumerate(ranges):
        last = number == len(ranges) - 1
        try:
            result = await run_in_threadpool(
                ingest_segment,
                engine,
                owner,
                project=project,
                run_id=run_id,
                writer_id=writer_id,
                offset=offset + start,
                body=bytes(body[start:stop]),
                crashed=last and state == RunState.CRASHED,
                end=end,
                skip=skip,
            )
        except IngestError as exc:
            return JSONResponse({"detail": exc.detail, **exc.extra}, status_code=exc.status)
        records += result.records
        duplicates += result.duplicates
    assert result is not None
    return {"offset": result.offset, "records": records, "duplicates": duplicates}


def _too_large(what: str, limit: int) -> JSONResponse:
    return JSONResponse(
        {
            "detail": f"{what} is over the {limit}-byte limit; send smaller pieces (whole "
            "frames; a frame larger than the limit can only be split into its records)",
            "limit": limit,
        },
        status_code=413,
    )


@router.get("/projects/{project}/runs/{run_id}/segments")
def upload_state(project: ProjectPath, run_id: RunPath, owner: ReadOwner, engine: EngineDep) -> Any:
    with engine.connect() as connection:
        return segment_offsets(connection, owner, project, run_id)
