"""Suggested customer matches: an operator merges two records of one person, or says they are two.

A typed phone or e-mail that another customer has makes a suggestion, shown on the
customer card (``GET /api/conversations/{id}``, ``possible_matches``); nothing merges until
an operator presses Merge here. The merge goes into the older record, moves every
conversation, lead and identity, and is recorded with the operator's login
(``GET /api/admin/customer-merges``). Operators and admins; state changes need the CSRF token.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from bot.server.auth import OperatorWorker
from bot.server.deps import ReadyStateDep
from bot.server.i18n import texts_for
from bot.server.routes.api_shapes import RowId
from bot.store import InputRejected
from bot.store.matches import UnknownMatch, dismiss_match, merge_match

router = APIRouter(prefix="/api/customer-matches", tags=["customers"])


@router.post("/{match_id}/merge", summary="Merge a suggested pair into the older customer (audited)")
async def merge(match_id: RowId, operator: OperatorWorker, state: ReadyStateDep) -> dict[str, Any]:
    now = state.operators.clock()
    async with state.db.session() as session:
        try:
            kept = await merge_match(session, match_id, operator, now)
        except UnknownMatch as exc:
            raise HTTPException(404, texts_for(operator, state).text(exc.args[0])) from None
        except InputRejected as exc:
            raise HTTPException(409, texts_for(operator, state).text(exc.args[0])) from None
        await session.commit()
    return {"kept_customer_id": kept, "merged_by": operator.login, "merged_at": now.isoformat()}


@router.post("/{match_id}/dismiss", summary="Not the same person: the suggestion is not shown again")
async def dismiss(match_id: RowId, operator: OperatorWorker, state: ReadyStateDep) -> dict[str, bool]:
    async with state.db.session() as session:
        try:
            await dismiss_match(session, match_id, operator, state.operators.clock())
        except UnknownMatch as exc:
            raise HTTPException(404, texts_for(operator, state).text(exc.args[0])) from None
        await session.commit()
    return {"ok": True}
