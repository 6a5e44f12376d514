"""The NLU inbox: customer messages the bot did not answer alone, with their context.

A message is in the inbox when

- the NLU fell back on it (``nlu_fallback``: low confidence, ambiguous, no intent), unless
  the dialogue took it as what it asked for: a form's answer (a name, a phone number) or
  the satisfaction survey's answer ("да", "5"), marked on the stored NLU result;
- it led to a handoff (the last customer message before a ticket), unless the NLU
  recognised an intent that goes to a person by design (``intents.human_only``);
- the customer said "no" to "did this answer your question?" (a ``did_not_help``
  ticket or a survey answer): the question the bot answered is the one shown;
- an operator answered it by hand: the answer comes along, and when it says what an
  FAQ answer says the message is flagged "the bot could have answered this".

Messages already labelled (any annotation not rejected) leave the inbox. Text that
carries a phone or an e-mail is shown masked. Similar messages are grouped
(``clusters``), biggest groups first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.editor.candidates import faq_answers, match_faq
from bot.editor.clusters import cluster
from bot.editor.pii import has_personal_data, mask_personal_data
from bot.editor.store import messages_by_conversation, scan_inbox
from bot.nlu.base import FALLBACK_INTENT
from bot.settings import BotdeskConfig
from bot.store import Database, Direction, Message, Sender
from bot.store.turns import handled_by_dialogue

SCAN_LIMIT = 5000  # customer messages looked at, newest first
CONTEXT_BEFORE, CONTEXT_AFTER = 3, 3


@dataclass
class InboxMessage:
    message_id: int
    conversation_id: int
    text: str  # masked when it carries personal data
    has_personal_data: bool
    created_at: str
    reasons: list[str]
    intent: str | None  # the NLU's best guess, before the fallback
    confidence: float | None
    final_intent: str | None  # what the bot acted on (nlu_fallback included)
    fallback_reason: str | None
    context: list[dict[str, Any]] = field(default_factory=list)
    operator_answer: str | None = None
    could_answer: dict[str, Any] | None = None  # {"intent", "similarity"}: the bot had this answer


@dataclass
class InboxGroup:
    id: int
    label: str
    size: int
    suggested_intent: str | None
    messages: list[InboxMessage]


def parse_since(value: str | None) -> datetime | None:
    """``2026-11-01`` or an ISO date-time; without a time zone it is UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (2026-11-01) or an ISO date-time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _shown(text: str) -> str:
    return mask_personal_data(text)


def _nlu_fields(nlu: dict[str, Any] | None) -> tuple[str | None, float | None, str | None, str | None]:
    nlu = nlu or {}
    ranking = nlu.get("intent_ranking") or []
    top = ranking[0] if ranking else (nlu.get("intent") or {})
    final = (nlu.get("intent") or {}).get("name")
    return top.get("name"), top.get("confidence"), final, nlu.get("fallback_reason")


async def collect(
    db: Database,
    config: BotdeskConfig,
    responses: dict[str, list[dict[str, Any]]],
    since: datetime,
    limit: int = 500,
) -> list[InboxMessage]:
    """The inbox messages since ``since``, newest first, at most ``limit``."""
    human_only = set(config.intents.human_only)
    reasons: dict[int, list[str]] = {}

    def flag(message_id: int, reason: str) -> None:
        found = reasons.setdefault(message_id, [])
        if reason not in found:
            found.append(reason)

    async with db.reader() as session:
        scan = await scan_inbox(session, since, SCAN_LIMIT)
        customer, labelled = scan.customer_messages, scan.labelled
        by_conversation: dict[int, list[Message]] = {}
        for message in reversed(customer):
            by_conversation.setdefault(message.conversation_id, []).append(message)

        def before(conversation_id: int, moment: datetime, back: int = 0) -> Message | None:
            earlier = [m for m in by_conversation.get(conversation_id, []) if m.created_at <= moment]
            return earlier[-1 - back] if len(earlier) > back else None

        said_no: set[int] = set()
        for message in customer:
            _, _, final, _ = _nlu_fields(message.nlu)
            if final == FALLBACK_INTENT and not handled_by_dialogue(message.nlu):
                flag(message.id, "fallback")  # a form's or the survey's answer was understood as such
        for ticket in scan.tickets:
            if ticket.reason == "did_not_help":
                said = before(ticket.conversation_id, ticket.created_at)
                asked = before(ticket.conversation_id, ticket.created_at, back=1)
                if said is not None:
                    said_no.add(said.id)  # the "no" itself is understood (as a no), not for the inbox
                if asked is not None:
                    flag(asked.id, "said_no")
                continue
            last = before(ticket.conversation_id, ticket.created_at)
            if (
                last is not None
                and _nlu_fields(last.nlu)[2] not in human_only
                and not handled_by_dialogue(last.nlu)
            ):
                flag(last.id, "escalation")
        for survey in scan.unhelpful_surveys:
            asked = before(survey.conversation_id, survey.created_at)
            if asked is not None:
                flag(asked.id, "said_no")

        chosen = [
            m
            for m in customer
            if m.id in reasons
            and m.id not in labelled | said_no
            and m.text.strip()
            and not m.text.startswith("/")
        ][:limit]
        around = await messages_by_conversation(session, {m.conversation_id for m in chosen})

    answers = faq_answers(responses)
    result = []
    for message in chosen:
        intent, confidence, final, fallback = _nlu_fields(message.nlu)
        thread = around.get(message.conversation_id, [])
        at = next((i for i, m in enumerate(thread) if m.id == message.id), 0)
        item = InboxMessage(
            message_id=message.id,
            conversation_id=message.conversation_id,
            text=_shown(message.text),
            has_personal_data=has_personal_data(message.text),
            created_at=message.created_at.isoformat(),
            reasons=list(reasons[message.id]),
            intent=intent,
            confidence=None if confidence is None else round(float(confidence), 3),
            final_intent=final,
            fallback_reason=fallback,
            context=[
                {"id": m.id, "sender": m.sender.value, "text": _shown(m.text), "this": m.id == message.id}
                for m in thread[max(0, at - CONTEXT_BEFORE) : at + CONTEXT_AFTER + 1]
            ],
        )
        answer = _operator_answer(thread, at)
        if answer is not None:
            item.operator_answer = _shown(answer)
            match = match_faq(answer, answers, config.editor.answer_similarity)
            if match is not None and match.intent != final:
                item.could_answer = {"intent": match.intent, "similarity": match.similarity}
                item.reasons.append("bot_could_answer")
        result.append(item)
    return result


def _operator_answer(thread: Sequence[Message], at: int) -> str | None:
    """The operator's first words after the message, before the customer speaks again."""
    for later in thread[at + 1 :]:
        if later.sender == Sender.CUSTOMER and later.direction == Direction.IN:
            return None
        if later.sender == Sender.OPERATOR and later.text.strip():
            return later.text
    return None


def group(messages: Sequence[InboxMessage], similarity: float) -> list[InboxGroup]:
    """Messages that say the same thing together, biggest groups first."""
    groups = []
    for number, found in enumerate(cluster([m.text for m in messages], similarity), start=1):
        members = [messages[i] for i in found.members]
        guesses = Counter(
            m.could_answer["intent"] if m.could_answer else m.intent
            for m in members
            if m.intent or m.could_answer
        )
        groups.append(
            InboxGroup(
                id=number,
                label=messages[found.label].text,
                size=len(members),
                suggested_intent=guesses.most_common(1)[0][0] if guesses else None,
                messages=members,
            )
        )
    return groups


async def inbox(
    db: Database,
    config: BotdeskConfig,
    responses: dict[str, list[dict[str, Any]]],
    now: datetime,
    since: datetime | None = None,
    limit: int = 500,
) -> dict[str, Any]:
    """The inbox as JSON: ``{"since", "total", "groups": [{..., "messages": [...]}]}``."""
    start = since or now - timedelta(days=config.editor.inbox_days)
    messages = await collect(db, config, responses, start, limit)
    groups = group(messages, config.editor.cluster_similarity)
    return {"since": start.isoformat(), "total": len(messages), "groups": [asdict(g) for g in groups]}
