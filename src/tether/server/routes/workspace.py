"""The project workspace's routes (issue 16) under one router: groups and the charts'
batch history (``groups.py``), saved views and bulk actions (``views_bulk.py``). Mounted
before ``runs.py``, whose ``/runs/{run_id}`` would otherwise take ``groups`` or ``history``
for a run id."""

from __future__ import annotations

from fastapi import APIRouter

from tether.server.routes import groups, views_bulk

router = APIRouter()
router.include_router(groups.router)
router.include_router(views_bulk.router)
