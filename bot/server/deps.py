"""The running services as ``Annotated`` dependencies, declared once for every route.

All are ``async def``: FastAPI runs a plain ``def`` dependency on a worker thread, and a
thread hop per dependency cost more than the rest of a REST turn.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from bot.conversation import ConversationService
from bot.server.lifespan import ServerState
from bot.server.metrics import Metrics
from bot.store import Database
from bot.store.errors import NO_DATABASE
from handoff.service import OperatorService

STARTING = "the server is starting; try again in a moment"


async def get_state(request: Request) -> ServerState:
    state: ServerState | None = getattr(request.app.state, "botdesk", None)
    if state is None:  # the lifespan has not run (yet)
        raise HTTPException(503, STARTING)
    return state


async def get_ready_state(state: Annotated[ServerState, Depends(get_state)]) -> ServerState:
    """The services, once the store is usable: a route that writes must not answer before."""
    if not state.ready:
        raise HTTPException(503, NO_DATABASE, headers={"Retry-After": "5"})
    return state


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


StateDep = Annotated[ServerState, Depends(get_state)]
ReadyStateDep = Annotated[ServerState, Depends(get_ready_state)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


async def get_conversations(state: ReadyStateDep) -> ConversationService:
    return state.conversations


async def get_operators(state: ReadyStateDep) -> OperatorService:
    return state.operators


async def get_database(state: ReadyStateDep) -> Database:
    return state.db


ConversationsDep = Annotated[ConversationService, Depends(get_conversations)]
OperatorsDep = Annotated[OperatorService, Depends(get_operators)]
DatabaseDep = Annotated[Database, Depends(get_database)]
