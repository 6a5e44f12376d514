"""A customer who writes while waiting in the queue: told their message reached the operators.

The bot stays out of a dialogue handed to a person, but a message into silence reads as
lost. So a waiting customer's message is acknowledged ("Ваше сообщение передано оператору,
вы 2-й в очереди") once per place in the queue: a second message at the same place gets
nothing, one after the queue moved says the new place. When nobody is online, it says so
instead of a wait it cannot promise (once, until someone is). What was said is kept in the
ticket's note, in the turn's transaction.
"""

from __future__ import annotations

from datetime import datetime

from bot.dialogue.engine import DialogueEngine
from bot.dialogue.state import Reply, Staffed
from bot.settings import BotdeskConfig
from bot.store import TurnTransaction
from bot.store.waiting import estimate, note_update, place_in_queue, queued_ticket_of

NOBODY = "nobody online"


async def acknowledgement(
    transaction: TurnTransaction,
    config: BotdeskConfig,
    engine: DialogueEngine,
    conversation_id: int,
    staffed: Staffed | None,
    now: datetime,
) -> Reply | None:
    """What to tell a customer who wrote while queued, or None (said already at this place)."""
    queued = await queued_ticket_of(transaction, conversation_id)
    if queued is None:
        return None
    note = queued.note
    department = note.get("department")
    if staffed is None:  # not tracked (a shell, story tests): the ticket was queued in working hours
        online = True
    elif isinstance(department, str):
        online = staffed(department)
    else:  # a ticket from before departments were noted
        online = any(staffed(d.key) for d in config.departments)
    if not online:
        if note.get("acked") == NOBODY:
            return None
        await note_update(transaction, queued.ticket_id, {"acked": NOBODY})
        return engine.say("utter_queued_nobody_online")
    position = await place_in_queue(transaction, queued.ticket_id, now=now)
    if note.get("acked") == position:
        return None
    minutes = await estimate(
        transaction,
        queued.department_id,
        position,
        default_per_place=config.escalation.average_handle_minutes,
        now=now,
    )
    await note_update(transaction, queued.ticket_id, {"acked": position, "told": [position, minutes]})
    return engine.say("utter_queued_ack", position=position, minutes=minutes)
