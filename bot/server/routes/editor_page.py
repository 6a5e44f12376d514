"""The editor page at ``/panel/editor``: the NLU inbox, labels, proposals, retrain, gate, publish.

Same shape as the operator workspace: rendered once on the server (who, the CSRF
token, what the role may do), then ``editor.js`` loads everything from
``/api/editor`` and shows customer text with ``textContent`` only, under the same
strict Content-Security-Policy (no inline script).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bot.server.auth import PanelLogin
from bot.server.deps import StateDep
from bot.server.routes.panel import PAGE_HEADERS, shown_photo, templates
from bot.store import OperatorRole

router = APIRouter(prefix="/panel", tags=["panel pages"], include_in_schema=False)
EDITORS = frozenset({OperatorRole.EDITOR, OperatorRole.ADMIN})


@router.get("/editor", response_class=HTMLResponse, summary="The editor page")
async def editor_page(request: Request, login: PanelLogin, state: StateDep) -> HTMLResponse:
    operator = login.operator
    return templates.TemplateResponse(
        request,
        "panel/editor.html",
        {
            "operator": {
                "display_name": operator.display_name,
                "role": operator.role.value,
                "photo_url": shown_photo(operator.photo_url),
            },
            "csrf_token": login.csrf_token,
            "can_edit": operator.role in EDITORS,
            "can_work": operator.role in (OperatorRole.OPERATOR, OperatorRole.ADMIN),
            "model_version": state.model_version,
        },
        headers=PAGE_HEADERS,
    )
