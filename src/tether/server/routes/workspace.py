"""The project workspace's routes (issue 16) under one router: groups and the charts' batch
history (``groups.py``). Mounted before ``runs.py``, whose ``/runs/{run_id}`` would
otherwise take ``groups`` or ``history`` for a run id."""

from __future__ import annotations

from fastapi import APIRouter

from tether.server.routes import groups

router = APIRouter()
router.include_router(groups.router)
