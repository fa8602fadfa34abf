"""The ASGI application: ``create_app(settings)``.

Every error is JSON with a ``detail``. Validation errors name the field (FastAPI's 422), our
own refusals say what to do, and an unexpected exception is logged and answered as a JSON 500
(a bug to fix: the tests fuzz the API so that no input reaches it).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from tether import __version__
from tether.server import first_answer, series_cache
from tether.server.access import include_project_routes
from tether.server.blobs import open_blob_store
from tether.server.config import ServerSettings
from tether.server.protect import ProtectMiddleware, private_directory, private_files
from tether.server.queries import NotFoundError
from tether.server.routes import (
    admin,
    artifacts,
    ingest,
    keys,
    media,
    owners,
    runs,
    session,
    system,
    workspace,
)
from tether.server.session import load_secret
from tether.server.storage.db import make_engine, migrate
from tether.server.upload_limits import UploadSlots

logger = logging.getLogger("tether.server")


class FastJSONResponse(JSONResponse):
    """JSON through msgspec: a million-point history encodes in milliseconds."""

    def render(self, content: Any) -> bytes:
        return msgspec.json.encode(content)


STATIC_DIR = Path(__file__).parent / "static"


def _serve_ui(app: FastAPI) -> None:
    """The built web UI at ``/``; every non-API path answers index.html (deep links)."""

    @app.get("/{path:path}", include_in_schema=False)
    async def ui(request: Request, path: str) -> Response:
        if path.startswith("api/") or path == "api":
            return JSONResponse({"detail": f"no API route /{path}; see /api/openapi.json"}, 404)
        if "\x00" in path:  # no file has a NUL in its name, and Path() refuses one
            return JSONResponse({"detail": "a path cannot hold a NUL character"}, 404)
        index = STATIC_DIR / "index.html"
        if not index.is_file():
            return JSONResponse(
                {"detail": "the web UI is not built: run scripts/build-web.sh", "api": "/api/v1"},
                404,
            )
        try:
            candidate = (STATIC_DIR / path).resolve()
            found = bool(path) and candidate.is_file() and STATIC_DIR.resolve() in candidate.parents
        except OSError:  # a name too long for the file system (ENAMETOOLONG) names no file
            found = False
        if found:
            return FileResponse(candidate)
        return await _index_page(request, index, path)


async def _index_page(request: Request, index: Path, path: str) -> Response:
    """index.html, with the answer to the page's first API request in it when there is one
    (``first_answer``): the page up to the answer's place is sent at once, so the browser
    fetches the scripts while the answer is made. Such a page may hold the caller's data:
    no cache keeps it."""
    query: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        query.setdefault(name, value)  # the first, as URLSearchParams.get takes
    api_path = first_answer.first_api_path([p for p in path.split("/") if p], query)
    if api_path is None:
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
    head, tail = first_answer.split(index.read_bytes())

    async def page() -> AsyncIterator[bytes]:
        yield head
        body = await first_answer.answer_within(request, api_path, first_answer.WAIT_S)
        if body is not None:
            yield first_answer.block(api_path, body)
        yield tail

    return StreamingResponse(
        page(), media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"}
    )


def create_app(settings: ServerSettings) -> FastAPI:
    # The data (and, on SQLite, the database) is the owner's alone: 0700 and 0600.
    private_directory(settings.data_dir)
    database_file = settings.sqlite_path
    if database_file is not None:
        database_file.parent.mkdir(parents=True, exist_ok=True)
        private_files([database_file])
    blob_store = open_blob_store(settings.blob_url, settings.data_dir)  # ValueError: bad URL
    engine = make_engine(settings.database_url)
    migrate(engine)
    series_cache.budget(engine, settings.series_cache_bytes)
    settings.files_dir.mkdir(parents=True, exist_ok=True)
    app = FastAPI(
        title="tether",
        version=__version__,
        openapi_url="/api/openapi.json",
        # Swagger UI would load its script from a CDN: off. The schema is /api/openapi.json.
        docs_url=None,
        redoc_url=None,
        default_response_class=FastJSONResponse,
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.blob_store = blob_store
    app.state.session_secret = load_secret(settings.session_secret_path)
    app.state.upload_slots = UploadSlots(settings.uploads_per_user)
    app.state.allowed_hosts = None  # set by `serve` once the port is bound
    app.add_middleware(ProtectMiddleware, state=app.state)
    app.include_router(session.router, prefix="/api/v1")
    app.include_router(admin.router, prefix="/api/v1")
    app.include_router(keys.router, prefix="/api/v1")
    app.include_router(owners.router, prefix="/api/v1")
    include_project_routes(
        app,
        [
            workspace.router,  # first: its /runs/groups, /runs/history are not run ids
            runs.router,
            ingest.router,
            system.router,
            media.router,
            artifacts.router,
        ],
        prefix="/api/v1",
    )

    @app.get("/api/v1/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    _serve_ui(app)

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}"}, status_code=500)

    return app
