"""The operator queue and the ticket actions: claim, reply, release, return, close, transfer.

Every action goes through ``OperatorService``, so the customer sees the same notices
("Анна (оператор) подключился к чату") as from any other client, and ownership is the
store's compare-and-set: of two operators claiming one ticket exactly one gets 200,
the other 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field, model_validator

from bot.i18n.catalog import Translator
from bot.i18n.names import N_, Names
from bot.server.auth import CurrentOperator, OperatorWorker
from bot.server.deps import ReadyStateDep
from bot.server.i18n import texts_for
from bot.server.lifespan import ServerState
from bot.server.routes.api_shapes import BodyRowId, RowId, message_json, operator_json, ticket_json
from bot.store import (
    MAX_MESSAGE_CHARS,
    HandoffTicket,
    HistoryEntry,
    InputRejected,
    claimed_by,
    ensure_department,
    get_ticket,
    list_queue,
)
from bot.store.channel_history import message_by_id
from bot.store.labels import labelled, labels_of
from bot.store.operators import list_operators, operator_by_id, working_operator
from bot.store.roles import roles_by_operator
from bot.store.views import TicketView, operator_names, ticket_views
from handoff.gender import grammatical_gender
from handoff.service import HandoffError, LimitReached, ReplyRefused

router = APIRouter(prefix="/api", tags=["queue"])

OK = {"ok": True}
NOT_HELD = N_("you do not hold this dialogue (it was closed, returned, or taken back to the queue)")


def limit_reached(t: Translator, exc: LimitReached) -> str:
    """ "Анна: уже открыто 5 диалогов…" in the operator's language, with the right plural."""
    return t.ngettext(
        "{name} already has {n} dialogue open, the most allowed at once; close or hand it over first",
        "{name} already has {n} dialogues open, the most allowed at once; close or hand over one first",
        exc.limit,
        name=exc.name,
    )


def reply_refused(t: Translator, exc: ReplyRefused) -> str:
    """Why the customer's channel refused the reply, in the operator's language (nothing was sent)."""
    channel = Names(t).channel(exc.channel)
    if exc.reason == "window_closed" and exc.window_hours is not None:
        return t.ngettext(
            "Not sent: the customer last wrote in {channel} more than {n} hour ago. Outside this "
            "window {channel} lets a business send only approved message templates; the customer "
            "has to write first.",
            "Not sent: the customer last wrote in {channel} more than {n} hours ago. Outside this "
            "window {channel} lets a business send only approved message templates; the customer "
            "has to write first.",
            exc.window_hours,
            channel=channel,
        )
    return t("Not sent: {channel} does not accept this reply now.", channel=channel)


class ReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


class CloseIn(BaseModel):
    resolution: str = Field(default="resolved", min_length=1, max_length=200)


class TransferIn(BaseModel):
    operator_id: BodyRowId | None = None
    department: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one_target(self) -> TransferIn:
        if (self.operator_id is None) == (self.department is None):
            raise ValueError("give exactly one of operator_id or department")
        return self


async def _ticket(state: ServerState, ticket_id: int, t: Translator) -> HandoffTicket:
    async with state.db.reader() as session:
        ticket = await get_ticket(session, ticket_id)
    if ticket is None:
        raise HTTPException(404, t("there is no ticket {id}", id=ticket_id))
    return ticket


async def department_id(state: ServerState, key: str, t: Translator) -> int:
    """The department with this key from config.yml (stored on first use); 422 for an unknown key."""
    names = {d.key: d.name for d in state.config.departments}
    if key not in names:
        raise HTTPException(
            422, t("unknown department {key!r}; known: {known}", key=key, known=", ".join(names.values()))
        )
    async with state.db.session() as session:
        found = await ensure_department(session, key, names[key])
        await session.commit()
        return found


@router.get("/queue", summary="Dialogues waiting for an operator, and the ones I hold")
async def queue(
    operator: OperatorWorker,
    state: ReadyStateDep,
    department: Annotated[str | None, Query(max_length=64)] = None,
    label: Annotated[str | None, Query(max_length=80)] = None,
) -> dict[str, list[dict[str, Any]]]:
    wanted = await department_id(state, department, texts_for(operator, state)) if department else None
    now = state.operators.clock()
    async with state.db.reader() as session:
        waiting = await ticket_views(session, await list_queue(session, wanted, now=now))
        mine = await ticket_views(session, await claimed_by(session, operator.id))
        only = await labelled(session, label) if label else None  # the queue filtered by a label
        views = [v for v in [*waiting, *mine] if only is None or v.conversation.id in only]
        tags = await labels_of(session, {v.conversation.id for v in views})
    shown = {id(v) for v in views}
    return {
        "waiting": [_with_labels(v, now, tags) for v in waiting if id(v) in shown],
        "mine": [_with_labels(v, now, tags) for v in mine if id(v) in shown],
    }


def _with_labels(view: TicketView, now: datetime, tags: dict[int, list[str]]) -> dict[str, Any]:
    return {**ticket_json(view, now), "labels": tags.get(view.conversation.id, [])}


@router.get("/departments", summary="Departments from config.yml")
async def departments(operator: CurrentOperator, state: ReadyStateDep) -> list[dict[str, str]]:
    return [{"key": d.key, "name": d.name} for d in state.config.departments]


@router.get("/operators", summary="Active operator accounts (for transfers)")
async def operators(operator: CurrentOperator, state: ReadyStateDep) -> list[dict[str, Any]]:
    async with state.db.reader() as session:
        accounts = await list_operators(session)
        roles = await roles_by_operator(session, accounts)
        return [operator_json(op, roles[op.id]) for op in accounts]


@router.post("/tickets/{ticket_id}/claim", summary="Take a waiting dialogue (409 if someone was faster)")
async def claim(ticket_id: RowId, operator: OperatorWorker, state: ReadyStateDep) -> dict[str, bool]:
    t = texts_for(operator, state)
    await _ticket(state, ticket_id, t)
    try:
        won = await state.operators.claim(ticket_id, operator.id)
    except LimitReached as exc:
        raise HTTPException(409, limit_reached(t, exc)) from None
    if won:
        return OK
    ticket = await _ticket(state, ticket_id, t)
    if ticket.operator_id == operator.id and ticket.status.value == "claimed":
        return OK  # asked twice: it is mine
    if ticket.status.value == "claimed" and ticket.operator_id is not None:
        async with state.db.reader() as session:
            holder = await operator_by_id(session, ticket.operator_id)
        if holder is None:
            raise HTTPException(409, t("another operator has already taken this dialogue"))
        raise HTTPException(
            409,
            t.gendered(
                grammatical_gender(holder), "{name} has already taken this dialogue", name=holder.display_name
            ),
        )
    status = Names(t).ticket_state(ticket.status.value)
    raise HTTPException(409, t("this dialogue is not waiting any more (it is {status})", status=status))


@router.post(
    "/tickets/{ticket_id}/reply", summary="Answer the customer (a quick-phrase shortcut is expanded)"
)
async def reply(
    ticket_id: RowId, body: ReplyIn, operator: OperatorWorker, state: ReadyStateDep
) -> dict[str, Any]:
    t = texts_for(operator, state)
    await _ticket(state, ticket_id, t)
    text = await state.operators.expand(body.text, operator.display_name)
    if not text.strip():
        raise HTTPException(422, t("the reply is empty"))
    try:
        sent = await state.operators.reply(ticket_id, operator.id, text)
    except InputRejected as exc:
        raise HTTPException(422, t.text(str(exc.args[0]) if exc.args else str(exc))) from None
    except ReplyRefused as exc:
        raise HTTPException(409, reply_refused(t, exc)) from None
    except HandoffError:
        raise HTTPException(409, t(NOT_HELD)) from None
    assert sent.message_id is not None  # an operator's reply is stored before it is sent
    async with state.db.reader() as session:
        stored = await message_by_id(session, sent.message_id)
        names = await operator_names(session, {operator.id})
    return message_json(HistoryEntry(stored, sent.channel), None, names, state)


@router.post("/tickets/{ticket_id}/release", summary="Put the dialogue back in the queue")
async def release(ticket_id: RowId, operator: OperatorWorker, state: ReadyStateDep) -> dict[str, bool]:
    t = texts_for(operator, state)
    await _ticket(state, ticket_id, t)
    if not await state.operators.release(ticket_id, operator.id):
        raise HTTPException(409, t(NOT_HELD))
    return OK


@router.post("/tickets/{ticket_id}/return", summary="Give the dialogue back to the bot")
async def return_to_bot(ticket_id: RowId, operator: OperatorWorker, state: ReadyStateDep) -> dict[str, bool]:
    t = texts_for(operator, state)
    await _ticket(state, ticket_id, t)
    if not await state.operators.return_to_bot(ticket_id, operator.id):
        raise HTTPException(409, t(NOT_HELD))
    return OK


@router.post("/tickets/{ticket_id}/close", summary="Close the dialogue with a resolution")
async def close(
    ticket_id: RowId, operator: OperatorWorker, state: ReadyStateDep, body: CloseIn | None = None
) -> dict[str, bool]:
    t = texts_for(operator, state)
    await _ticket(state, ticket_id, t)
    resolution = (body or CloseIn()).resolution
    if not await state.operators.close(ticket_id, operator.id, resolution):
        raise HTTPException(409, t(NOT_HELD))
    return OK


@router.post("/tickets/{ticket_id}/transfer", summary="Hand the dialogue to a colleague or a department")
async def transfer(
    ticket_id: RowId, body: TransferIn, operator: OperatorWorker, state: ReadyStateDep
) -> dict[str, bool]:
    t = texts_for(operator, state)
    await _ticket(state, ticket_id, t)
    to_department = await department_id(state, body.department, t) if body.department else None
    if body.operator_id is not None:
        if body.operator_id == operator.id:
            raise HTTPException(422, t("this dialogue is already yours; transfer it to a colleague"))
        async with state.db.reader() as session:
            target = await working_operator(session, body.operator_id)
        if target is None:
            raise HTTPException(
                422, t("there is no operator {id} who can take dialogues", id=body.operator_id)
            )
    try:
        done = await state.operators.transfer(
            ticket_id, operator.id, to_operator_id=body.operator_id, to_department_id=to_department
        )
    except LimitReached as exc:
        raise HTTPException(409, limit_reached(t, exc)) from None
    if not done:
        raise HTTPException(409, t(NOT_HELD))
    return OK
