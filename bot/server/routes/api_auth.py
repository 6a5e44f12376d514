"""Logging in and out (the panel's form and the JSON API), and the operator's own status.

Wrong passwords are counted per login (in its one normal form) and per client address,
in the database, so every server process shares the count: after five within five
minutes that login gets 429 for a while, whatever the password, and an address gets
429 after twenty (``bot.server.throttle``). A successful login makes the operator
``online``; logging out of their last session makes them ``away``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from bot.i18n.names import N_
from bot.server.auth import (
    CurrentLogin,
    Login,
    PanelLogin,
    clear_session_cookie,
    csrf_matches,
    open_session,
    safe_next,
    set_session_cookie,
)
from bot.server.deps import ReadyStateDep
from bot.server.i18n import operator_language, texts_for
from bot.server.lifespan import ServerState
from bot.server.throttle import Throttled
from bot.store import Operator, OperatorStatus, operator_by_login
from bot.store.operators import set_password_hash, set_status
from bot.store.sessions import delete_session, live_sessions
from handoff.accounts import (
    MAX_DISPLAY_NAME_CHARS,
    AccountError,
    announce_account_change,
    hash_password,
    needs_rehash,
    normalize_login,
    update_profile,
    verify_password,
)

router = APIRouter(prefix="/api", tags=["auth"])
pages = APIRouter(prefix="/panel", tags=["panel pages"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")

WRONG = N_("wrong login or password")
# The form has no script at all; its style is inline. It posts only to this site and is never framed.
LOGIN_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class Refused(Exception):
    """A login that did not work: 401 wrong credentials, 429 throttled (``retry_after`` seconds)."""

    def __init__(self, status: int, retry_after: int = 0) -> None:
        self.status = status
        self.retry_after = retry_after


def client_host(request: Request) -> str | None:
    """The caller's address as uvicorn reports it (the proxy's X-Forwarded-For when it trusts the proxy)."""
    return request.client.host if request.client is not None else None


class Credentials(BaseModel):
    login: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class StatusChange(BaseModel):
    status: Literal["online", "away"]


class SettingsIn(BaseModel):
    """What an operator sets for themselves; ``null`` language or gender means "the default"."""

    display_name: str = Field(min_length=1, max_length=MAX_DISPLAY_NAME_CHARS)
    language: Literal["ru", "en"] | None = None
    grammatical_gender: Literal["female", "male"] | None = None


def me(operator: Operator, csrf_token: str, state: ServerState) -> dict[str, Any]:
    return {
        "id": operator.id,
        "login": operator.login,
        "display_name": operator.display_name,
        "role": operator.role.value,
        "photo_url": operator.photo_url,
        "status": operator.status.value,
        "max_parallel": operator.max_parallel or state.config.operators.max_parallel,
        "language": operator.language,  # None: the bot's
        "panel_language": operator_language(operator, state.config),
        "grammatical_gender": operator.grammatical_gender,  # None: guessed from the name, or neutral
        "csrf_token": csrf_token,
    }


async def change_status(state: ServerState, operator: Operator, status: OperatorStatus) -> None:
    """Store the status and tell the panels (and auto-assignment) when it changed."""
    async with state.db.session() as session:
        changed = await set_status(session, operator.id, status)
        await session.commit()
    operator.status = status
    state.presence.set_status(
        operator.id, status == OperatorStatus.ONLINE
    )  # the bus tells the other processes
    if changed:
        state.events.emit("operator", None, operator_id=operator.id, status=status.value)


async def check_credentials(state: ServerState, login: str, password: str, client: str | None) -> Operator:
    """The operator these credentials belong to, or ``Refused``; ``client`` is the caller's address."""
    normal = normalize_login(login)  # one form for the throttle and the lookup alike
    throttle = state.panel.throttle
    try:
        attempt = await throttle.begin(normal, client)
    except Throttled as exc:
        raise Refused(429, max(1, int(exc.retry_after.total_seconds() + 0.999))) from None
    async with state.db.reader() as session:
        operator = await operator_by_login(session, normal)
    hashed = operator.password_hash if operator is not None else None
    if not verify_password(hashed, password) or operator is None or not operator.active:
        raise Refused(401)  # the attempt stays counted as a failure
    await throttle.succeeded(attempt)
    if hashed is not None and needs_rehash(hashed):
        async with state.db.session() as session:
            await set_password_hash(session, operator.id, hash_password(password))
            await session.commit()
    return operator


async def log_in(state: ServerState, request: Request, response: Response, operator: Operator) -> str:
    """A new session cookie on ``response``; the operator comes online. Returns the CSRF token."""
    token, csrf, _ = await open_session(state, operator.id)
    set_session_cookie(response, request, token, state.config.operators.session_hours)
    await change_status(state, operator, OperatorStatus.ONLINE)
    return csrf


async def log_out(state: ServerState, request: Request, response: Response, login: Login) -> None:
    """End this session; the operator is away once no other session of theirs is left."""
    async with state.db.session() as session:
        await delete_session(session, login.token_hash)
        left = await live_sessions(session, login.operator.id, now=state.operators.clock())
        await session.commit()
    announce_account_change(
        state.events, login.operator.id, "logged out", login.session_id
    )  # its feeds close
    if left == 0:
        await change_status(state, login.operator, OperatorStatus.AWAY)
    clear_session_cookie(response, request)


@router.post("/login", summary="Log in: sets the session cookie, returns me and the CSRF token")
async def api_login(
    credentials: Credentials, request: Request, response: Response, state: ReadyStateDep
) -> dict[str, Any]:
    try:
        operator = await check_credentials(
            state, credentials.login, credentials.password, client_host(request)
        )
    except Refused as exc:
        t = texts_for(None, state)  # the caller is not known: the bot's language
        if exc.status == 429:
            raise HTTPException(
                429,
                t.gettext(
                    "too many wrong passwords for this login; try again in {seconds} s",
                    seconds=exc.retry_after,
                ),
                headers={"Retry-After": str(exc.retry_after)},
            ) from None
        raise HTTPException(401, t.gettext(WRONG)) from None
    csrf = await log_in(state, request, response, operator)
    return {"operator": me(operator, csrf, state), "csrf_token": csrf}


@router.post("/logout", summary="Log out this session (needs X-CSRF-Token)")
async def api_logout(
    login: CurrentLogin, request: Request, response: Response, state: ReadyStateDep
) -> dict[str, bool]:
    await log_out(state, request, response, login)
    return {"ok": True}


@router.get("/me", summary="The logged-in operator, with the session's CSRF token")
async def get_me(login: CurrentLogin, state: ReadyStateDep) -> dict[str, Any]:
    return me(login.operator, login.csrf_token, state)


@router.put("/me/status", summary="Online (takes dialogues) or away")
async def put_status(change: StatusChange, login: CurrentLogin, state: ReadyStateDep) -> dict[str, Any]:
    await change_status(state, login.operator, OperatorStatus(change.status))
    return me(login.operator, login.csrf_token, state)


@router.put(
    "/me/settings", summary="My display name, the panel's language, the gender texts about me agree with"
)
async def put_settings(change: SettingsIn, login: CurrentLogin, state: ReadyStateDep) -> dict[str, Any]:
    try:
        operator = await update_profile(
            state.db,
            login.operator.id,
            display_name=change.display_name,
            language=change.language,
            grammatical_gender=change.grammatical_gender,
        )
    except AccountError as exc:
        raise HTTPException(422, texts_for(login.operator, state).text(exc.text)) from None
    return me(operator, login.csrf_token, state)


def _login_page(
    request: Request,
    state: ServerState,
    *,
    next_path: str,
    login: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    t = texts_for(None, state)  # nobody is known yet: the bot's language
    return templates.TemplateResponse(
        request,
        "login.html",
        {
            "language": t.language,
            "_": t.gettext,
            "next": next_path,
            "login": login,
            "error": error,
        },
        status_code=status,
        headers=LOGIN_HEADERS,
    )


@pages.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, state: ReadyStateDep, next: str | None = None) -> HTMLResponse:
    return _login_page(request, state, next_path=safe_next(next))


@pages.post("/login", response_model=None)
async def login_submit(
    request: Request,
    state: ReadyStateDep,
    login: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/panel",
) -> HTMLResponse | RedirectResponse:
    target = safe_next(next)
    try:
        operator = await check_credentials(state, login, password, client_host(request))
    except Refused as exc:
        t = texts_for(None, state)
        minutes = max(1, round(exc.retry_after / 60))
        error = (
            t.ngettext(
                "Too many failed attempts. Try again in {n} minute.",
                "Too many failed attempts. Try again in {n} minutes.",
                minutes,
            )
            if exc.status == 429
            else t.gettext("Wrong login or password")
        )
        page = _login_page(request, state, next_path=target, login=login, error=error, status=exc.status)
        if exc.status == 429:
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    response = RedirectResponse(target, status_code=303)
    await log_in(state, request, response, operator)
    return response


@pages.post("/logout", response_model=None)
async def logout_submit(
    request: Request, login: PanelLogin, state: ReadyStateDep, csrf_token: Annotated[str, Form()] = ""
) -> RedirectResponse:
    if not csrf_matches(login.csrf_token, csrf_token):
        raise HTTPException(
            403,
            texts_for(login.operator, state).gettext(
                "missing or wrong csrf_token; reload the page and try again"
            ),
        )
    response = RedirectResponse("/panel/login", status_code=303)
    await log_out(state, request, response, login)
    return response
