"""Admin-only API: panel accounts, their roles, quick phrases, customer merges, forgetting a customer.

Role ``admin``; others get 403. The same rules as ``botdesk operator ...`` and
``botdesk customer forget`` (both go through ``handoff.accounts`` and ``bot.privacy``).
A password is never echoed back, except one the server generated, once, in the answer
that created it. An admin cannot disable their own account, so there is always someone
left who can undo a mistake. Disabling an account, a new password or a revoked role
closes that account's live feeds in every process at once (the event bus).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from bot.i18n.catalog import Translator
from bot.privacy import forget
from bot.server.auth import Admin
from bot.server.deps import ReadyStateDep
from bot.server.i18n import texts_for
from bot.server.routes.api_shapes import RowId, operator_json
from bot.store import InputRejected, Operator, OperatorRole, UnknownCustomer
from bot.store.matches import merge_history
from bot.store.models import QuickPhrase
from bot.store.operators import list_operators
from bot.store.quick_phrases import (
    add_phrase,
    change_phrase,
    count_live,
    delete_phrase,
    live_phrase,
    live_phrases,
)
from bot.store.roles import roles_by_operator
from handoff.accounts import (
    MAX_PASSWORD_CHARS,
    MIN_PASSWORD_CHARS,
    AccountError,
    add_account,
    generate_password,
    grant,
    revoke,
    set_active,
    set_password,
)
from handoff.phrases import MAX_PHRASE_CHARS, MAX_PHRASES, MAX_SHORTCUT_CHARS, PhraseError, check_phrase

router = APIRouter(prefix="/api/admin", tags=["admin"])

LoginPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


class AccountIn(BaseModel):
    login: str = Field(min_length=1, max_length=64, description="Lowercase latin letters, digits, . _ -")
    language: Literal["ru", "en"] | None = Field(
        default=None, description="The panel's language; none: the bot's"
    )
    grammatical_gender: Literal["female", "male"] | None = Field(
        default=None,
        description="What texts about the operator agree with; none: from the name, else neutral",
    )
    password: str | None = Field(
        default=None,
        min_length=MIN_PASSWORD_CHARS,
        max_length=MAX_PASSWORD_CHARS,
        description="Omit to have one generated (returned once)",
    )
    role: OperatorRole = OperatorRole.OPERATOR
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    max_parallel: int | None = Field(default=None, ge=1, le=100)


class PasswordIn(BaseModel):
    password: str | None = Field(
        default=None,
        min_length=MIN_PASSWORD_CHARS,
        max_length=MAX_PASSWORD_CHARS,
        description="Omit to have one generated (returned once)",
    )


class PhraseIn(BaseModel):
    shortcut: str = Field(
        min_length=2,
        max_length=MAX_SHORTCUT_CHARS,
        description="/ and a word, e.g. /hi (case does not matter)",
    )
    text: str = Field(
        min_length=1,
        max_length=MAX_PHRASE_CHARS,
        description="{operator} becomes the operator's display name",
    )


def account_json(operator: Operator, roles: frozenset[OperatorRole] | None = None) -> dict[str, Any]:
    return {
        **operator_json(operator, roles),
        "active": operator.active,
        "max_parallel": operator.max_parallel,
        "language": operator.language,
        "grammatical_gender": operator.grammatical_gender,
    }


def _refused(exc: AccountError, t: Translator) -> HTTPException:
    text = str(exc)
    said = t.text(exc.text)
    if "there is no operator" in text:
        return HTTPException(404, said)
    return HTTPException(409 if "is taken" in text else 422, said)


def phrase_json(phrase: QuickPhrase) -> dict[str, Any]:
    return {
        "id": phrase.id,
        "shortcut": phrase.shortcut,
        "text": phrase.text,
        "position": phrase.position,
        "updated_at": phrase.updated_at.isoformat(),
    }


@router.get("/operators", summary="Every panel account, disabled ones included")
async def accounts(admin: Admin, state: ReadyStateDep) -> list[dict[str, Any]]:
    async with state.db.reader() as session:
        listed = await list_operators(session, include_inactive=True)
        roles = await roles_by_operator(session, listed)
        return [account_json(op, roles[op.id]) for op in listed]


@router.post("/operators", status_code=201, summary="Create an account (409 when the login is taken)")
async def create(account: AccountIn, admin: Admin, state: ReadyStateDep) -> dict[str, Any]:
    password = account.password or generate_password()
    try:
        operator = await add_account(
            state.db,
            account.login,
            password,
            role=account.role,
            display_name=account.display_name,
            max_parallel=account.max_parallel,
            language=account.language,
            grammatical_gender=account.grammatical_gender,
        )
    except AccountError as exc:
        raise _refused(exc, texts_for(admin, state)) from None
    answer = account_json(operator)
    if account.password is None:
        answer["password"] = password  # generated: shown this once, stored only as a hash
    return answer


async def _set_active(state: ReadyStateDep, admin: Operator, login: str, active: bool) -> dict[str, Any]:
    t = texts_for(admin, state)
    if not active and login == admin.login:
        raise HTTPException(409, t("you cannot disable your own account; ask another admin"))
    try:
        changed = await set_active(state.db, login, active, events=state.events)
    except AccountError as exc:
        raise _refused(exc, t) from None
    return {"login": login, "active": active, "changed": changed}


@router.post("/operators/{login}/disable", summary="Lock an account out now (its sessions end)")
async def disable(login: LoginPath, admin: Admin, state: ReadyStateDep) -> dict[str, Any]:
    return await _set_active(state, admin, login, False)


@router.post("/operators/{login}/enable", summary="Let a disabled account log in again")
async def enable(login: LoginPath, admin: Admin, state: ReadyStateDep) -> dict[str, Any]:
    return await _set_active(state, admin, login, True)


@router.post("/operators/{login}/password", summary="Set a new password (their sessions end)")
async def reset_password(
    login: LoginPath, change: PasswordIn, admin: Admin, state: ReadyStateDep
) -> dict[str, Any]:
    password = change.password or generate_password()
    try:
        await set_password(state.db, login, password, events=state.events)
    except AccountError as exc:
        raise _refused(exc, texts_for(admin, state)) from None
    answer: dict[str, Any] = {"login": login, "sessions_ended": True}
    if change.password is None:
        answer["password"] = password
    return answer


@router.get("/customer-merges", summary="The audit of customer merges: which into which, why, who, when")
async def customer_merges(
    admin: Admin, state: ReadyStateDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[dict[str, Any]]:
    async with state.db.reader() as session:
        merges = await merge_history(session, limit)
    return [
        {
            "id": merge.id,
            "kept_customer_id": merge.kept_customer_id,
            "merged_customer_id": merge.merged_customer_id,
            "reason": merge.reason,
            "operator_login": merge.operator_login,
            "match_id": merge.match_id,
            "merged_at": merge.merged_at.isoformat(),
        }
        for merge in merges
    ]


def _roles_answer(login: str, roles: frozenset[OperatorRole]) -> dict[str, Any]:
    return {"login": login, "roles": sorted(role.value for role in roles)}


@router.put(
    "/operators/{login}/roles/{role}",
    summary="Grant a role on top of the account's own (e.g. editor to an operator); rights are the union",
)
async def grant_account_role(
    login: LoginPath, role: OperatorRole, admin: Admin, state: ReadyStateDep
) -> dict[str, Any]:
    try:
        roles = await grant(state.db, login, role, by=admin, now=state.operators.clock())
    except AccountError as exc:
        raise _refused(exc, texts_for(admin, state)) from None
    return _roles_answer(login, roles)


@router.delete(
    "/operators/{login}/roles/{role}",
    summary="Revoke a granted role (its live feeds recheck at once); the account's own role stays",
)
async def revoke_account_role(
    login: LoginPath, role: OperatorRole, admin: Admin, state: ReadyStateDep
) -> dict[str, Any]:
    try:
        roles = await revoke(state.db, login, role, events=state.events)
    except AccountError as exc:
        raise _refused(exc, texts_for(admin, state)) from None
    return _roles_answer(login, roles)


@router.delete(
    "/customers/{customer_id}",
    summary="Forget a customer: messages, leads, identities and notes are deleted for good",
)
async def forget_customer(customer_id: RowId, admin: Admin, state: ReadyStateDep) -> dict[str, Any]:
    try:
        report = await forget(state.db, customer_id, by=f"admin {admin.login}")
    except UnknownCustomer as exc:
        raise HTTPException(404, texts_for(admin, state).text(exc.args[0])) from None
    return {
        "customer_id": report.customer_id,
        "messages": report.messages,
        "leads": report.leads,
        "identities": report.identities,
        "outbox_items": report.outbox_items,
        "other_rows": report.other_rows,
    }


# ---- quick phrases ---------------------------------------------------------------------
@router.get("/quick-phrases", summary="The operators' quick phrases, in their order")
async def quick_phrases(admin: Admin, state: ReadyStateDep) -> list[dict[str, Any]]:
    await state.operators.seed_quick_phrases()
    async with state.db.reader() as session:
        return [phrase_json(p) for p in await live_phrases(session)]


@router.post("/quick-phrases", status_code=201, summary="Add a quick phrase (409: the shortcut is taken)")
async def add_quick_phrase(body: PhraseIn, admin: Admin, state: ReadyStateDep) -> dict[str, Any]:
    t = texts_for(admin, state)
    shortcut, text = _checked(body, t)
    await state.operators.seed_quick_phrases()
    async with state.db.session() as session:
        if await count_live(session) >= MAX_PHRASES:
            raise HTTPException(422, t("at most {n} quick phrases; delete one first", n=MAX_PHRASES))
        try:
            phrase = await add_phrase(session, shortcut, text, by=admin.id, now=state.operators.clock())
        except InputRejected:
            raise HTTPException(409, t("the shortcut {shortcut} is taken", shortcut=shortcut)) from None
        await session.commit()
        return phrase_json(phrase)


@router.put("/quick-phrases/{phrase_id}", summary="Change a quick phrase's shortcut or text")
async def change_quick_phrase(
    phrase_id: RowId, body: PhraseIn, admin: Admin, state: ReadyStateDep
) -> dict[str, Any]:
    t = texts_for(admin, state)
    shortcut, text = _checked(body, t)
    async with state.db.session() as session:
        phrase = await live_phrase(session, phrase_id)
        if phrase is None:
            raise HTTPException(404, t("there is no quick phrase {id}", id=phrase_id))
        try:
            await change_phrase(session, phrase, shortcut, text, by=admin.id, now=state.operators.clock())
        except InputRejected:
            raise HTTPException(409, t("the shortcut {shortcut} is taken", shortcut=shortcut)) from None
        await session.commit()
        return phrase_json(phrase)


@router.delete(
    "/quick-phrases/{phrase_id}", summary="Delete a quick phrase (it never comes back from config.yml)"
)
async def delete_quick_phrase(phrase_id: RowId, admin: Admin, state: ReadyStateDep) -> dict[str, Any]:
    async with state.db.session() as session:
        phrase = await live_phrase(session, phrase_id)
        if phrase is None:
            raise HTTPException(404, texts_for(admin, state)("there is no quick phrase {id}", id=phrase_id))
        await delete_phrase(session, phrase, by=admin.id, now=state.operators.clock())
        await session.commit()
    return {"id": phrase_id, "deleted": True}


def _checked(body: PhraseIn, t: Translator) -> tuple[str, str]:
    try:
        return check_phrase(body.shortcut, body.text)
    except PhraseError as exc:
        raise HTTPException(422, t.text(exc.text)) from None
