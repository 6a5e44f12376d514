"""Who is calling: panel sessions, CSRF, roles, as dependencies for routes.

A login creates a random session token, sent as the ``botdesk_session`` cookie
(HttpOnly, SameSite=Lax, Secure over https) and stored server-side only as its
SHA-256 with an expiry and a CSRF token; logging out, disabling the account or a
new password deletes the row, so the cookie stops working at once.

- ``CurrentOperator``: the logged-in operator; 401 without a session; every
  state-changing ``/api`` request also needs ``X-CSRF-Token`` (403 otherwise).
- ``require_role(*roles)``: 403 for anyone without one of ``roles`` (an account's own
  role or one an admin granted, ``bot.store.roles``); ``OperatorWorker`` = operator or
  admin, ``EditorRole`` = editor or admin, ``Admin`` = admin. ``require_role(...,
  page=True)`` is the same for ``/panel`` pages (no session: the login form).
- ``PanelLogin``: for ``/panel`` pages: no session is a 303 to the login form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, Response

from bot.i18n.names import N_, Names
from bot.server.deps import ReadyStateDep
from bot.server.i18n import texts_for
from bot.server.lifespan import ServerState
from bot.store import Operator, OperatorRole
from bot.store.roles import EDITING_ROLES, WORKING_ROLES, roles_of
from bot.store.sessions import create_session, find_session, touch_session

SESSION_COOKIE = "botdesk_session"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_PATH = "/panel/login"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOUCH_EVERY = timedelta(minutes=1)
NOT_LOGGED_IN = N_("not logged in: log in at /panel/login or POST /api/login")
BAD_CSRF = N_("missing or wrong {header} header; read the token from GET /api/me")


@dataclass(frozen=True)
class Login:
    """A live session: the operator and the session's CSRF token."""

    operator: Operator
    csrf_token: str
    session_id: int
    token_hash: str
    roles: frozenset[OperatorRole]

    @property
    def can_work(self) -> bool:
        """Takes dialogues and sees the live feed."""
        return bool(self.roles & WORKING_ROLES)

    @property
    def can_edit(self) -> bool:
        """Sees the editor inbox, labels, retrains, publishes."""
        return bool(self.roles & EDITING_ROLES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def open_session(state: ServerState, operator_id: int) -> tuple[str, str, datetime]:
    """Store a new session; returns ``(cookie token, csrf token, expiry)``."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = state.operators.clock()
    expires = now + timedelta(hours=state.config.operators.session_hours)
    async with state.db.session() as session:
        await create_session(session, operator_id, hash_token(token), csrf, now=now, expires_at=expires)
        await session.commit()
    return token, csrf, expires


def set_session_cookie(response: Response, request: Request, token: str, hours: float) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(hours * 3600),
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https"
    )


async def login_of(state: ServerState, token: str | None) -> Login | None:
    """The live session a cookie token belongs to, if any (HTTP routes and the WebSocket)."""
    if not token or len(token) > 256:
        return None
    now = state.operators.clock()
    token_hash = hash_token(token)
    async with state.db.reader() as session:
        found = await find_session(session, token_hash, now=now)
        if found is None:
            return None
        row, operator = found
        roles = await roles_of(session, operator)
    if now - row.last_seen_at > TOUCH_EVERY:  # a write a minute at most, not one per request
        async with state.db.session() as session:
            await touch_session(session, row.id, now)
            await session.commit()
    return Login(operator, row.csrf_token, row.id, token_hash, roles)


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


async def _api_login(request: Request, state: ReadyStateDep) -> Login:
    login = await login_of(state, request.cookies.get(SESSION_COOKIE))
    if login is None:
        raise HTTPException(401, texts_for(None, state).gettext(NOT_LOGGED_IN))
    if request.method not in SAFE_METHODS and not csrf_matches(
        login.csrf_token, request.headers.get(CSRF_HEADER)
    ):
        raise HTTPException(403, texts_for(login.operator, state).gettext(BAD_CSRF, header=CSRF_HEADER))
    return login


async def _api_operator(login: Annotated[Login, Depends(_api_login)]) -> Operator:
    return login.operator


async def _panel_login(request: Request, state: ReadyStateDep) -> Login:
    login = await login_of(state, request.cookies.get(SESSION_COOKIE))
    if login is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, "log in first", headers={"Location": f"{LOGIN_PATH}?next={quote(target)}"})
    return login


CurrentLogin = Annotated[Login, Depends(_api_login)]
CurrentOperator = Annotated[Operator, Depends(_api_operator)]
PanelLogin = Annotated[Login, Depends(_panel_login)]


class PageForbidden(HTTPException):
    """403 for a ``/panel`` page: answered with a page that says why (``bot.server.routes.panel``),
    in the operator's ``language``."""

    def __init__(self, detail: str, language: str) -> None:
        super().__init__(403, detail)
        self.language = language


def forbidden_text(state: ServerState, login: Login, roles: Iterable[OperatorRole]) -> str:
    """ "This needs the editor or admin role; you have operator", in the operator's language."""
    t = texts_for(login.operator, state)
    names = Names(t)
    return t.gettext(
        "this needs the {needed} role; you have {held}",
        needed=t.gettext(" or ").join(names.role(r.value) for r in roles),
        held=", ".join(names.role(r) for r in sorted(r.value for r in login.roles)),
    )


def require_role(*roles: OperatorRole, page: bool = False) -> Callable[..., Coroutine[Any, Any, Any]]:
    """A dependency: the logged-in operator if they have one of ``roles``, else 403.

    ``page=True``: for a ``/panel`` page; no session is the login form (303), and the
    dependency gives the whole ``Login``.
    """
    allowed = frozenset(roles)
    if page:

        async def page_dependency(login: PanelLogin, state: ReadyStateDep) -> Login:
            if not login.roles & allowed:
                language = texts_for(login.operator, state).language
                raise PageForbidden(forbidden_text(state, login, roles), language)
            return login

        return page_dependency

    async def dependency(login: CurrentLogin, state: ReadyStateDep) -> Operator:
        if not login.roles & allowed:
            raise HTTPException(403, forbidden_text(state, login, roles))
        return login.operator

    return dependency


OperatorWorker = Annotated[Operator, Depends(require_role(OperatorRole.OPERATOR, OperatorRole.ADMIN))]
EditorRole = Annotated[Operator, Depends(require_role(OperatorRole.EDITOR, OperatorRole.ADMIN))]
Admin = Annotated[Operator, Depends(require_role(OperatorRole.ADMIN))]


def safe_next(target: str | None, default: str = "/panel") -> str:
    """Where to go after login: a path on this site only (no //host, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
