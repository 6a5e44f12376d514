"""Labels on dialogues and the search over conversations: the panel's search box and label card.

Operators (and admins) label a conversation ("возврат", "vip") and filter the queue by a
label (``GET /api/queue?label=``); the search finds conversations by a customer's name,
phone or e-mail, words of any message, an order number (``bot.store.search``). Labels and
results are plain data: pages show them as text.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from bot.i18n.catalog import Translator
from bot.server.auth import OperatorWorker
from bot.server.deps import ReadyStateDep
from bot.server.i18n import texts_for
from bot.server.lifespan import ServerState
from bot.server.routes.api_shapes import RowId
from bot.store import Conversation, InputRejected
from bot.store.labels import MAX_LABEL_CHARS, add_label, labels_in_use, labels_of, remove_label
from bot.store.search import MAX_QUERY_CHARS, search_conversations

router = APIRouter(prefix="/api", tags=["labels and search"])

LabelPath = Annotated[str, Path(min_length=1, max_length=MAX_LABEL_CHARS * 2, description="A label")]


class LabelIn(BaseModel):
    label: str = Field(min_length=1, max_length=MAX_LABEL_CHARS * 2)


async def _exists(state: ServerState, conversation_id: int, t: Translator) -> None:
    async with state.db.reader() as session:
        if await session.get(Conversation, conversation_id) is None:
            raise HTTPException(404, t("there is no conversation {id}", id=conversation_id))


async def _labels(state: ServerState, conversation_id: int) -> dict[str, Any]:
    async with state.db.reader() as session:
        found = await labels_of(session, [conversation_id])
    return {"conversation_id": conversation_id, "labels": found.get(conversation_id, [])}


@router.get("/labels", summary="The labels in use, the most used first: [{label, count}]")
async def labels(operator: OperatorWorker, state: ReadyStateDep) -> list[dict[str, Any]]:
    async with state.db.reader() as session:
        return [{"label": label, "count": count} for label, count in await labels_in_use(session)]


@router.post("/conversations/{conversation_id}/labels", summary="Put a label on a dialogue")
async def label_add(
    conversation_id: RowId, body: LabelIn, operator: OperatorWorker, state: ReadyStateDep
) -> dict[str, Any]:
    t = texts_for(operator, state)
    await _exists(state, conversation_id, t)
    async with state.db.session() as session:
        try:
            await add_label(
                session, conversation_id, body.label, operator_id=operator.id, now=state.operators.clock()
            )
        except InputRejected as exc:
            raise HTTPException(422, t.text(exc.args[0] if exc.args else str(exc))) from None
        await session.commit()
    return await _labels(state, conversation_id)


@router.delete("/conversations/{conversation_id}/labels/{label}", summary="Take a label off a dialogue")
async def label_remove(
    conversation_id: RowId, label: LabelPath, operator: OperatorWorker, state: ReadyStateDep
) -> dict[str, Any]:
    await _exists(state, conversation_id, texts_for(operator, state))
    async with state.db.session() as session:
        await remove_label(session, conversation_id, label)
        await session.commit()
    return await _labels(state, conversation_id)


@router.get(
    "/search", summary="Conversations by a customer's name, phone, e-mail, message words, order number"
)
async def search(
    operator: OperatorWorker,
    state: ReadyStateDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
    label: Annotated[str | None, Query(max_length=MAX_LABEL_CHARS * 2)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 30,
) -> list[dict[str, Any]]:
    async with state.db.reader() as session:
        found = await search_conversations(session, q, label=label or None, limit=limit)
        labelled = await labels_of(session, {f.conversation_id for f in found})
    return [
        {
            "conversation_id": f.conversation_id,
            "customer_id": f.customer_id,
            "customer_name": f.customer_name,
            "channel": f.channel,
            "state": f.state,
            "started_at": f.started_at.isoformat(),
            "updated_at": f.updated_at.isoformat(),
            "matched": f.matched,
            "snippet": f.snippet,
            "labels": labelled.get(f.conversation_id, []),
        }
        for f in found
    ]
