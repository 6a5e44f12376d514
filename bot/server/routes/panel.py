"""The operator panel's pages: the workspace at ``/panel`` and its static files.

The page is rendered once on the server (who is logged in, the CSRF token); the
JavaScript modules under ``/panel/static/`` then load everything else from the JSON
API and stay live over the ``/api/events`` WebSocket. The login form itself is
``bot.server.routes.api_auth``'s.

Customer text never reaches this template: the browser shows it with ``textContent``
only, and the Content-Security-Policy below allows no inline script at all, so even a
mistake elsewhere cannot run what a customer typed.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from bot.i18n.text import fill
from bot.server.auth import Login, PageForbidden, PanelLogin
from bot.server.deps import StateDep
from bot.server.i18n import page_texts
from bot.server.lifespan import ServerState
from bot.store import OperatorRole

HERE = Path(__file__).resolve().parent.parent
STATIC_DIR = HERE / "static" / "panel"
STATIC_PREFIX = "/panel/static"

# No inline script or style, no other origins but https images (operator photos);
# the WebSocket is same-origin ('self' covers ws:/wss: to this host).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: https:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",  # the page carries the session's CSRF token
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

router = APIRouter(prefix="/panel", tags=["panel pages"], include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["static_url"] = lambda name: f"{STATIC_PREFIX}/{name}"


class PanelStatic(StaticFiles):
    """The panel's JavaScript and CSS; browsers revalidate (ETag) so an upgrade shows at once."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def mount_static(app: FastAPI) -> None:
    """Serve ``bot/server/static/panel`` under ``/panel/static`` (shipped inside the wheel)."""
    app.mount(STATIC_PREFIX, PanelStatic(directory=STATIC_DIR), name="panel-static")


async def forbidden_page(request: Request, exc: Exception) -> Response:
    """A panel page the account's roles do not open: 403, with a page saying which role it needs."""
    state: ServerState | None = getattr(request.app.state, "botdesk", None)
    language = exc.language if isinstance(exc, PageForbidden) else None
    texts = (
        page_texts(request, state, None, language)
        if state is not None
        else {"_": _untranslated, "i18n": {}, "language": "en"}
    )
    detail = exc.detail if isinstance(exc, PageForbidden) else "forbidden"
    return templates.TemplateResponse(
        request, "panel/forbidden.html", {**texts, "detail": detail}, status_code=403, headers=PAGE_HEADERS
    )


def _untranslated(message: str, **values: object) -> str:
    return fill(message, values)


def shown_photo(url: str | None) -> str | None:
    """An operator's photo when it is an https address or a path on this site (what the CSP allows)."""
    if url and (url.startswith("https://") or (url.startswith("/") and not url.startswith("//"))):
        return url
    return None


def page(request: Request, state: ServerState, login: Login, **context: object) -> dict[str, object]:
    """A panel page's template context: the texts in the operator's language, who they are, the CSRF token."""
    texts = page_texts(request, state, login.operator)
    names = texts["names"]
    operator = login.operator
    me = {
        "display_name": operator.display_name,
        "role": names.roles((r.value for r in login.roles), operator.role.value),
        "status": operator.status.value,
        "photo_url": shown_photo(operator.photo_url),
        "can_work": login.can_work,
        "can_edit": login.can_edit,
        "is_admin": OperatorRole.ADMIN in login.roles,
    }
    return {**texts, "me": me, "csrf_token": login.csrf_token, **context}


@router.get("", response_class=HTMLResponse, summary="The operator workspace")
async def workspace(request: Request, login: PanelLogin, state: StateDep) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "panel/workspace.html",
        page(request, state, login, crm_configured=bool(state.config.crm)),
        status_code=200 if login.can_work else 403,
        headers=PAGE_HEADERS,
    )
