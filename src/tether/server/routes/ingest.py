"""Uploads: segment bytes in, idempotently (see ``tether.server.ingest``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse

from tether.server.deps import ID_PATTERN, PROJECT_PATTERN, EngineDep, UserDep
from tether.server.ingest import IngestError, ingest_segment
from tether.server.queries import segment_offsets

router = APIRouter()

ProjectPath = Annotated[str, Path(pattern=PROJECT_PATTERN, description="Project name.")]
RunPath = Annotated[str, Path(pattern=ID_PATTERN, description="Run id.")]
WriterPath = Annotated[str, Path(pattern=ID_PATTERN, description="Writer id.")]


@router.put(
    "/projects/{project}/runs/{run_id}/segments/{writer_id}",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
            "required": False,
        }
    },
    responses={409: {"description": "Resume from the offset in the body."}, 413: {}, 422: {}},
)
async def upload_segment(
    request: Request,
    project: ProjectPath,
    run_id: RunPath,
    writer_id: WriterPath,
    user: UserDep,
    engine: EngineDep,
    offset: Annotated[int, Query(ge=0, le=2**53, description="Byte offset of the body.")] = 0,
    state: Annotated[str | None, Query(pattern="^crashed$")] = None,
) -> Any:
    limit: int = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(
            413, f"body of {declared} bytes is over the {limit}-byte limit; send smaller batches"
        )
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise HTTPException(413, f"body is over the {limit}-byte limit; send smaller batches")
    from starlette.concurrency import run_in_threadpool

    try:
        result = await run_in_threadpool(
            ingest_segment,
            engine,
            user,
            project=project,
            run_id=run_id,
            writer_id=writer_id,
            offset=offset,
            body=bytes(body),
            crashed=state == "crashed",
        )
    except IngestError as exc:
        return JSONResponse({"detail": exc.detail, **exc.extra}, status_code=exc.status)
    return {"offset": result.offset, "records": result.records, "duplicates": result.duplicates}


@router.get("/projects/{project}/runs/{run_id}/segments")
def upload_state(project: ProjectPath, run_id: RunPath, user: UserDep, engine: EngineDep) -> Any:
    with engine.connect() as connection:
        return segment_offsets(connection, user, project, run_id)
