"""The editor page at ``/panel/editor``: the NLU inbox, labels, proposals, retrain, gate, publish.

Same shape as the operator workspace: rendered once on the server (who, the CSRF
token, what the role may do), then ``editor.js`` loads everything from
``/api/editor`` and shows customer text with ``textContent`` only, under the same
strict Content-Security-Policy (no inline script).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from bot.server.auth import Login, require_role
from bot.server.deps import StateDep
from bot.server.routes.panel import PAGE_HEADERS, page, templates
from bot.store import OperatorRole

router = APIRouter(prefix="/panel", tags=["panel pages"], include_in_schema=False)
EditorLogin = Annotated[Login, Depends(require_role(OperatorRole.EDITOR, OperatorRole.ADMIN, page=True))]


@router.get("/editor", response_class=HTMLResponse, summary="The editor page (editor or admin role)")
async def editor_page(request: Request, login: EditorLogin, state: StateDep) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "panel/editor.html",
        page(request, state, login, model_version=state.model_version),
        headers=PAGE_HEADERS,
    )
