"""Auto-assignment: queued dialogues go to online operators in turn, nobody over their limit.

With ``operators.auto_assign: true`` the server runs a pass when a ticket is queued,
when an operator comes online, and on every maintenance tick. A pass walks the queue
in its order (priority, then waiting time) and gives each ticket to the next operator
in round-robin order who serves its department and has room; the claim itself is the
operator service's, so the customer sees who joined and a manual claim in between
simply wins.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.clock import Clock
from bot.settings import BotdeskConfig
from bot.store import Database, HandoffTicket, list_queue
from bot.store.operators import available_operators
from handoff.service import HandoffError, LimitReached, OperatorService

log = logging.getLogger("botdesk.handoff.assign")


@dataclass
class _Candidate:
    operator_id: int
    department_id: int | None
    room: int

    def serves(self, ticket: HandoffTicket) -> bool:
        """An operator of no department serves all; one of a department serves it and the unsorted."""
        return self.department_id is None or ticket.department_id in (None, self.department_id)


class AutoAssigner:
    def __init__(self, config: BotdeskConfig, db: Database, operators: OperatorService, clock: Clock) -> None:
        self.config = config
        self.db = db
        self.operators = operators
        self.clock = clock
        self._last: int | None = None  # the operator who got the previous ticket
        self._lock = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        return self.config.operators.auto_assign

    async def assign(self) -> list[tuple[int, int]]:
        """One pass; returns ``(ticket_id, operator_id)`` for each ticket given out."""
        if not self.enabled:
            return []
        async with self._lock:  # one pass at a time: the round-robin cursor stays honest
            now = self.clock()
            async with self.db.reader() as session:
                tickets = await list_queue(session, now=now)
                if not tickets:
                    return []
                default = self.config.operators.max_parallel
                candidates = [
                    _Candidate(op.id, op.department_id, (op.max_parallel or default) - held)
                    for op, held in await available_operators(session, now=now)
                ]
            given: list[tuple[int, int]] = []
            for ticket in tickets:
                for candidate in self._in_turn(candidates):
                    if candidate.room <= 0 or not candidate.serves(ticket):
                        continue
                    try:
                        won = await self.operators.claim(ticket.id, candidate.operator_id)
                    except LimitReached:
                        candidate.room = 0  # took dialogues by hand since the read
                        continue
                    except HandoffError as exc:  # disabled since the read
                        log.info("auto-assign skipped operator %s: %s", candidate.operator_id, exc)
                        candidate.room = 0
                        continue
                    if won:
                        candidate.room -= 1
                        self._last = candidate.operator_id
                        given.append((ticket.id, candidate.operator_id))
                    break  # won, or somebody claimed it by hand: the next ticket
            if given:
                log.info("auto-assigned %s", ", ".join(f"ticket {t} to operator {o}" for t, o in given))
            return given

    def _in_turn(self, candidates: list[_Candidate]) -> list[_Candidate]:
        """Candidates starting after the one who got the previous ticket."""
        if self._last is None:
            return candidates
        after = [c for c in candidates if c.operator_id > self._last]
        return after + [c for c in candidates if c.operator_id <= self._last]
