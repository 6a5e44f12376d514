"""The operator panel's pages: the workspace at ``/panel``, the operator's settings, the admins'
quick phrases, and the static files.

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
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from bot.i18n.catalog import LANGUAGES, language_or_default
from bot.i18n.text import fill
from bot.server.auth import Login, PageForbidden, PanelLogin, csrf_matches, require_role
from bot.server.deps import ReadyStateDep, StateDep
from bot.server.i18n import page_texts, texts_for
from bot.server.lifespan import ServerState
from bot.store import OperatorRole
from handoff.accounts import MAX_DISPLAY_NAME_CHARS, AccountError, update_profile
from handoff.gender import grammatical_gender

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


LANGUAGE_NAMES = {"ru": "Русский", "en": "English"}  # each in itself, as language menus do


def _settings_page(
    request: Request,
    state: ServerState,
    login: Login,
    *,
    form: dict[str, object],
    saved: bool = False,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    operator = login.operator
    joined = state.operators.engine.say(
        "utter_operator_joined", operator=operator.display_name, operator_gender=grammatical_gender(operator)
    ).text
    return templates.TemplateResponse(
        request,
        "panel/settings.html",
        page(
            request,
            state,
            login,
            form=form,
            saved=saved,
            error=error,
            joined=joined,
            languages=LANGUAGES,
            language_names=LANGUAGE_NAMES,
            bot_language=language_or_default(state.config.language),
        ),
        status_code=status,
        headers=PAGE_HEADERS,
    )


@router.get("/settings", response_class=HTMLResponse, summary="The operator's own settings")
async def settings_page(
    request: Request, login: PanelLogin, state: ReadyStateDep, saved: bool = False
) -> HTMLResponse:
    operator = login.operator
    form: dict[str, object] = {
        "display_name": operator.display_name,
        "language": operator.language or "",
        "grammatical_gender": operator.grammatical_gender or "",
    }
    return _settings_page(request, state, login, form=form, saved=saved)


@router.post("/settings", response_model=None, summary="Save the operator's own settings")
async def save_settings(
    request: Request,
    login: PanelLogin,
    state: ReadyStateDep,
    csrf_token: Annotated[str, Form(max_length=256)] = "",
    display_name: Annotated[str, Form(max_length=MAX_DISPLAY_NAME_CHARS)] = "",
    language: Annotated[str, Form(max_length=8)] = "",
    grammatical_gender: Annotated[str, Form(max_length=8)] = "",
) -> HTMLResponse | RedirectResponse:
    t = texts_for(login.operator, state)
    if not csrf_matches(login.csrf_token, csrf_token):
        raise HTTPException(403, t("missing or wrong csrf_token; reload the page and try again"))
    form: dict[str, object] = {
        "display_name": display_name,
        "language": language,
        "grammatical_gender": grammatical_gender,
    }
    try:
        await update_profile(
            state.db,
            login.operator.id,
            display_name=display_name,
            language=language or None,
            grammatical_gender=grammatical_gender or None,
        )
    except AccountError as exc:
        return _settings_page(request, state, login, form=form, error=t.text(exc.text), status=422)
    return RedirectResponse("/panel/settings?saved=true", status_code=303)


AdminLogin = Annotated[Login, Depends(require_role(OperatorRole.ADMIN, page=True))]


@router.get("/admin", response_class=HTMLResponse, summary="Admin: the operators' quick phrases")
async def admin_page(request: Request, login: AdminLogin, state: ReadyStateDep) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "panel/admin.html", page(request, state, login), headers=PAGE_HEADERS
    )
