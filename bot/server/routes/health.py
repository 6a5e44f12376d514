"""What orchestrators and Prometheus ask: is this process usable, and how is it doing."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from bot.server.deps import MetricsDep, StateDep
from bot.server.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])
log = logging.getLogger("botdesk.server")
DATABASE_CHECK_SECONDS = 3.0


@router.get("/healthz", summary="200 when the model is loaded and the database answers, else 503")
async def healthz(state: StateDep) -> JSONResponse:
    problem = state.problem if not state.ready else None
    if problem is None:
        try:
            async with asyncio.timeout(DATABASE_CHECK_SECONDS):
                await state.db.check()
        except TimeoutError:
            problem = f"the database did not answer within {DATABASE_CHECK_SECONDS:g} s"
        except Exception as exc:  # StoreError names the database, never its password
            problem = str(exc) or type(exc).__name__
    body: dict[str, Any] = {
        "status": "ok" if problem is None else "unavailable",
        "model_version": state.model_version,
        "database": "ok" if problem is None else problem,
        "outbox_worker": "running" if state.outbox.running else "off",
    }
    return JSONResponse(body, status_code=200 if problem is None else 503)


@router.get("/metrics", summary="Prometheus text format", response_class=Response)
async def metrics(state: StateDep, metrics: MetricsDep) -> Response:
    if state.ready:
        try:
            async with asyncio.timeout(DATABASE_CHECK_SECONDS):
                await metrics.refresh(state.db)
        except Exception as exc:  # the counters are still worth a scrape without the store's gauges
            log.warning("metrics: store gauges not refreshed (%s)", exc)
    return Response(metrics.render(), media_type=CONTENT_TYPE)
