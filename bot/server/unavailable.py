"""The database went away while the server runs: 503 with Retry-After, not a 500 and a traceback.

A request that finds PostgreSQL down (restarting, failing over, a network cut) gets a
clear sentence and ``Retry-After``; nothing it sent was acknowledged, so a client that
retries loses nothing. The engine checks connections before use (``pool_pre_ping``),
so when the database is back the next request simply works: no restart.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.store import InputRejected, MessageTooLong, StoreError
from bot.store.errors import NO_DATABASE, log_outage

RETRY_AFTER_SECONDS = 5


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log_outage(f"{request.method} {request.url.path}", exc)
    return JSONResponse(
        {"detail": NO_DATABASE}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
    )


async def input_rejected(request: Request, exc: Exception) -> JSONResponse:
    """A StoreError that is the input's fault, not the database's (routes usually catch it first)."""
    return JSONResponse({"detail": str(exc)}, status_code=413 if isinstance(exc, MessageTooLong) else 422)


def install(app: FastAPI) -> None:
    """Answer every route's database outage the same way."""
    app.add_exception_handler(InputRejected, input_rejected)
    for error in (OperationalError, InterfaceError, PoolTimeout, StoreError):
        app.add_exception_handler(error, database_unavailable)
