"""Operator accounts: passwords (argon2), creating, disabling, the first admin.

The server and ``botdesk operator`` both come here, so the rules are one: a login is
a short lowercase name in one normal form (``normalize_login``, used to create, to look
up and to throttle an account), a password has at least ``MIN_PASSWORD_CHARS``
characters, a disabled account or a new password logs the operator out everywhere.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import secrets
import unicodedata
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.errors import BotdeskError
from bot.events import NO_EVENTS, EventBus
from bot.i18n.catalog import GENDERS, LANGUAGES
from bot.i18n.text import Text
from bot.store import Database, Operator, OperatorRole, create_operator, operator_by_login
from bot.store.operators import set_password_hash
from bot.store.roles import grant_role, having_role, revoke_role, roles_of
from bot.store.sessions import revoke_sessions

log = logging.getLogger("botdesk.panel")

ADMIN_LOGIN = "admin"
ADMIN_PASSWORD_ENV = "BOTDESK_ADMIN_PASSWORD"
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024
LOGIN_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_DISPLAY_NAME_CHARS = 200
# The first admin's name until they change it, in the bot's language ("Меня зовут {operator}").
FIRST_ADMIN_NAMES = {"ru": "Администратор", "en": "Administrator"}

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this costs as much as a real check: an unknown login answers as slowly.

    Made on first use, not at import: hashing takes ~0.15 s, paid by every CLI command and
    every server start otherwise.
    """
    return _hasher.hash(secrets.token_urlsafe(16))


class AccountError(BotdeskError):
    """A request about an account that cannot be done; ``text`` says why (the panel translates it)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text  # a Text where the panel may show it


def normalize_login(login: str) -> str:
    """The one form of a login: what an account is created under, looked up by and throttled by.

    Compatibility-normalised (NFKC: full-width letters are letters), without surrounding
    whitespace of any kind, lowercase. Every way of typing the same login ends up at the
    same account and the same count of wrong passwords (``bot.server.throttle``).
    """
    return unicodedata.normalize("NFKC", login).strip().lower()


def check_login(login: str) -> str:
    """The normal form of ``login`` if it is a usable login, else AccountError."""
    normal = normalize_login(login)
    if not LOGIN_PATTERN.fullmatch(normal):
        raise AccountError(
            Text(
                "{login!r} is not a usable login: 1-64 characters of lowercase latin letters, "
                "digits, '.', '_' or '-'",
                login=login,
            )
        )
    return normal


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(Text("the password is too short: at least {n} characters", n=MIN_PASSWORD_CHARS))
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountError(Text("the password is too long: at most {n} characters", n=MAX_PASSWORD_CHARS))
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; constant work whether or not the account has a password."""
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """The hash was made with weaker parameters than today's: store a new one at the next login."""
    return _hasher.check_needs_rehash(password_hash)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


async def add_account(
    db: Database,
    login: str,
    password: str,
    *,
    role: OperatorRole = OperatorRole.OPERATOR,
    display_name: str | None = None,
    max_parallel: int | None = None,
    language: str | None = None,
    grammatical_gender: str | None = None,
) -> Operator:
    """Create an account; a taken login is an AccountError.

    Race-safe: when several processes create the same login at once (the first admin,
    when N servers start together on a new database), the database's unique login
    lets one insert win; the others get "taken", never an unhandled IntegrityError.
    """
    login = check_login(login)
    hashed = hash_password(password)
    _check_preferences(language, grammatical_gender)
    async with db.session() as session:
        if await operator_by_login(session, login) is not None:
            raise AccountError(Text("the login {login!r} is taken", login=login))
        try:
            operator = await create_operator(
                session, login, (display_name or login).strip() or login, role=role, password_hash=hashed
            )
            operator.max_parallel = max_parallel
            operator.language, operator.grammatical_gender = language, grammatical_gender
            await session.commit()
        except IntegrityError:
            raise AccountError(Text("the login {login!r} is taken", login=login)) from None
        return operator


async def _account(db: Database, login: str) -> Operator:
    async with db.reader() as session:
        operator = await operator_by_login(session, normalize_login(login))
    if operator is None:
        raise AccountError(Text("there is no operator with the login {login!r}", login=login))
    return operator


def check_display_name(name: str) -> str:
    """A display name customers and colleagues read: one line, not empty, not too long."""
    shown = " ".join(name.split())
    if not shown:
        raise AccountError(Text("the display name is empty"))
    if len(shown) > MAX_DISPLAY_NAME_CHARS or any(
        unicodedata.category(ch) == "Cc" for ch in name if ch != "\t"
    ):
        raise AccountError(
            Text("the display name must be one line of at most {n} characters", n=MAX_DISPLAY_NAME_CHARS)
        )
    return shown


def _check_preferences(language: str | None, grammatical_gender: str | None) -> None:
    if language is not None and language not in LANGUAGES:
        raise AccountError(Text("the panel speaks {languages}", languages=", ".join(LANGUAGES)))
    if grammatical_gender is not None and grammatical_gender not in GENDERS:
        raise AccountError(Text("the grammatical gender is female, male or not set"))


async def update_profile(
    db: Database,
    operator_id: int,
    *,
    display_name: str,
    language: str | None,
    grammatical_gender: str | None,
) -> Operator:
    """An operator's own settings: the name customers see, the panel's language (None: the bot's),
    the grammatical gender texts about them agree with (None: from the name, else neutral)."""
    _check_preferences(language, grammatical_gender)
    shown = check_display_name(display_name)
    async with db.session() as session:
        operator = await session.get_one(Operator, operator_id)
        operator.display_name, operator.language = shown, language
        operator.grammatical_gender = grammatical_gender
        await session.commit()
        return operator


def announce_account_change(
    events: EventBus, operator_id: int, reason: str, session_id: int | None = None
) -> None:
    """Tell every server process (through the event bus) that an account's sessions or roles changed.

    Each process closes that account's open live feeds at once (``/api/events`` rechecks
    the session and the roles on this event); ``session_id`` narrows it to one login.
    """
    data: dict[str, object] = {"operator_id": operator_id, "reason": reason}
    if session_id is not None:
        data["session_id"] = session_id
    events.emit("account", None, **data)


async def set_password(db: Database, login: str, password: str, *, events: EventBus = NO_EVENTS) -> None:
    """A new password; every session of the account ends, its open feeds close."""
    hashed = hash_password(password)
    operator = await _account(db, login)
    async with db.session() as session:
        await set_password_hash(session, operator.id, hashed)
        await revoke_sessions(session, operator.id)
        await session.commit()
    announce_account_change(events, operator.id, "password")


async def set_active(db: Database, login: str, active: bool, *, events: EventBus = NO_EVENTS) -> bool:
    """Disable (logged out everywhere, feeds closed at once) or enable an account; False: no change."""
    operator = await _account(db, login)
    async with db.session() as session:
        account = await session.get_one(Operator, operator.id)
        changed = account.active != active
        account.active = active
        if not active:
            await revoke_sessions(session, operator.id)
        await session.commit()
    if not active:
        announce_account_change(events, operator.id, "disabled")
    return changed


async def account_roles(db: Database, login: str) -> tuple[Operator, frozenset[OperatorRole]]:
    """The account and all its roles (its own and the granted ones)."""
    operator = await _account(db, login)
    async with db.reader() as session:
        return operator, await roles_of(session, operator)


async def grant(
    db: Database, login: str, role: OperatorRole, *, by: Operator | None, now: datetime
) -> frozenset[OperatorRole]:
    """Give an account one more role (e.g. ``editor`` to an operator); returns all its roles."""
    operator = await _account(db, login)
    if role != operator.role:
        async with db.session() as session:
            await grant_role(session, operator.id, role, by=by.id if by is not None else None, now=now)
            await session.commit()
    return (await account_roles(db, login))[1]


async def revoke(
    db: Database, login: str, role: OperatorRole, *, events: EventBus = NO_EVENTS
) -> frozenset[OperatorRole]:
    """Take a granted role back (its open feeds recheck at once); returns the roles left.

    The account's own role cannot be revoked this way: disable the account, or create one
    with the right role.
    """
    operator = await _account(db, login)
    if role == operator.role:
        raise AccountError(
            Text(
                "{role} is the account's own role, not a grant; disable the account instead", role=role.value
            )
        )
    async with db.session() as session:
        removed = await revoke_role(session, operator.id, role)
        await session.commit()
    if removed:
        announce_account_change(events, operator.id, "role revoked")
    return (await account_roles(db, login))[1]


async def ensure_admin(db: Database, language: str = "en") -> str | None:
    """Create the first admin when there is no admin at all; returns the login created, if any.

    The password comes from ``$BOTDESK_ADMIN_PASSWORD``; without it a random one is
    generated and logged exactly once, here: it is stored only as a hash. The display name
    is "Administrator" in the bot's ``language`` until the admin sets their own.
    """
    async with db.reader() as session:
        has_admin = await session.scalar(
            select(Operator.id).where(having_role([OperatorRole.ADMIN])).limit(1)
        )
        taken = await operator_by_login(session, ADMIN_LOGIN)
    if has_admin is not None:
        return None
    if taken is not None:
        log.warning(
            "there is no panel admin, and the login %r belongs to a %s; "
            "create one with `botdesk operator add NAME --role admin`",
            ADMIN_LOGIN,
            taken.role.value,
        )
        return None
    given = os.environ.get(ADMIN_PASSWORD_ENV)
    password = given or generate_password()
    try:
        await add_account(
            db,
            ADMIN_LOGIN,
            password,
            role=OperatorRole.ADMIN,
            display_name=FIRST_ADMIN_NAMES.get(language, FIRST_ADMIN_NAMES["en"]),
        )
    except AccountError as exc:
        if given is not None and "password" in str(exc):
            raise AccountError(f"${ADMIN_PASSWORD_ENV}: {exc}") from None
        return None  # another server process created it a moment ago
    if given:
        log.warning(
            "first start: panel admin login %r created with the password from $%s",
            ADMIN_LOGIN,
            ADMIN_PASSWORD_ENV,
        )
    else:
        log.warning(
            "first start: panel admin login %r, password %r (shown only this once; change it with "
            "`botdesk operator passwd %s`)",
            ADMIN_LOGIN,
            password,
            ADMIN_LOGIN,
        )
    return ADMIN_LOGIN
