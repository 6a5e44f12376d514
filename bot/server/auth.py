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
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, Response

from bot.server.deps import ReadyStateDep
from bot.server.lifespan import ServerState
from bot.store import Operator, OperatorRole
from bot.store.roles import EDITING_ROLES, WORKING_ROLES, roles_of
from bot.store.sessions import create_session, find_session, touch_session

SESSION_COOKIE = "botdesk_session"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_PATH = "/panel/login"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOUCH_EVERY = timedelta(minutes=1)
NOT_LOGGED_IN = "not logged in: log in at /panel/login or POST /api/login"
BAD_CSRF = f"missing or wrong {CSRF_HEADER} header; read the token from GET /api/me"


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
        raise HTTPException(401, NOT_LOGGED_IN)
    if request.method not in SAFE_METHODS and not csrf_matches(
        login.csrf_token, request.headers.get(CSRF_HEADER)
    ):
        raise HTTPException(403, BAD_CSRF)
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
    """403 for a ``/panel`` page: answered with a page that says why (``bot.server.routes.panel``)."""


def role_names(roles: frozenset[OperatorRole]) -> str:
    return ", ".join(sorted(role.value for role in roles))


def role_label(login: Login) -> str:
    """The roles to show on a page: the account's own first, then the granted ones ("operator + editor")."""
    own = login.operator.role
    return " + ".join([own.value, *sorted(r.value for r in login.roles if r != own)])


def require_role(*roles: OperatorRole, page: bool = False) -> Callable[..., Coroutine[Any, Any, Any]]:
    """A dependency: the logged-in operator if they have one of ``roles``, else 403.

    ``page=True``: for a ``/panel`` page; no session is the login form (303), and the
    dependency gives the whole ``Login``.
    """
    allowed = frozenset(roles)
    names = " or ".join(role.value for role in roles)
    if page:

        async def page_dependency(login: PanelLogin) -> Login:
            if not login.roles & allowed:
                raise PageForbidden(403, _forbidden(names, login).detail)
            return login

        return page_dependency

    async def dependency(login: CurrentLogin) -> Operator:
        if not login.roles & allowed:
            raise _forbidden(names, login)
        return login.operator

    return dependency


def _forbidden(names: str, login: Login) -> HTTPException:
    return HTTPException(403, f"this needs the {names} role; you have {role_names(login.roles)}")


OperatorWorker = Annotated[Operator, Depends(require_role(OperatorRole.OPERATOR, OperatorRole.ADMIN))]
EditorRole = Annotated[Operator, Depends(require_role(OperatorRole.EDITOR, OperatorRole.ADMIN))]
Admin = Annotated[Operator, Depends(require_role(OperatorRole.ADMIN))]


def safe_next(target: str | None, default: str = "/panel") -> str:
    """Where to go after login: a path on this site only (no //host, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
