"""The panel in the operator's language over real HTTP: errors, settings, gender, quick phrases."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot.project import Project
from bot.store import OperatorRole
from tests.helpers.server import AppFactory, project_with, serve
from tests.server.api_helpers import add_operator, ask_for_a_person, logged_in, polled

SETTINGS = "/api/me/settings"


async def test_a_russian_operator_reads_errors_in_russian_an_english_one_in_english(
    make_app: AppFactory, trained_ru: Project, tmp_path: Path
) -> None:
    project = project_with(trained_ru, tmp_path / "bot", {"  max_parallel: 5 ": "  max_parallel: 1 "})
    app = make_app(project)
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna", name="Анна")
        await add_operator(app, "boris", name="Борис")
        await ask_for_a_person(customer, "v1")
        await ask_for_a_person(customer, "v2")
        async with logged_in(base, "anna") as anna, logged_in(base, "boris") as boris:
            me = (await anna.get("/api/me")).json()
            first, second = [t["ticket_id"] for t in (await anna.get("/api/queue")).json()["waiting"]]
            await anna.post(f"/api/tickets/{first}/claim")
            full = await anna.post(f"/api/tickets/{second}/claim")
            taken = await boris.post(f"/api/tickets/{first}/claim")
            missing = await anna.get("/api/conversations/999999")
            no_role = await anna.get("/api/admin/operators")
            await anna.put(SETTINGS, json={"display_name": "Анна", "language": "en"})
            full_en = await anna.post(f"/api/tickets/{second}/claim")
            not_held_en = await anna.post(f"/api/tickets/{second}/release")
    assert me["language"] is None and me["panel_language"] == "ru"  # the bot's language by default
    assert full.json()["detail"].startswith("Анна: уже открыт 1 диалог — больше одновременно нельзя")
    assert taken.json()["detail"] == "Анна уже взяла этот диалог"  # agrees with a feminine first name
    assert missing.json()["detail"] == "диалога 999999 нет"
    assert no_role.json()["detail"] == "нужна роль «администратор»; у вас: оператор"
    assert full_en.json()["detail"].startswith("Анна already has 1 dialogue open, the most allowed at once")
    assert not_held_en.json()["detail"].startswith("you do not hold this dialogue")


async def test_an_operator_sets_name_language_and_gender(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "sasha", name="Саша")
        await ask_for_a_person(customer, "v1")
        await ask_for_a_person(customer, "v2")
        async with logged_in(base, "sasha") as sasha:
            first, second = [t["ticket_id"] for t in (await sasha.get("/api/queue")).json()["waiting"]]
            await sasha.post(f"/api/tickets/{first}/claim")  # "Саша": either gender, a neutral wording
            changed = await sasha.put(
                SETTINGS,
                json={"display_name": "  Александра  ", "language": "ru", "grammatical_gender": "female"},
            )
            await sasha.post(f"/api/tickets/{second}/claim")
            hi = await sasha.post(f"/api/tickets/{second}/reply", json={"text": "/hi"})
            bad_language = await sasha.put(SETTINGS, json={"display_name": "Саша", "language": "de"})
            empty_name = await sasha.put(SETTINGS, json={"display_name": "   "})
            control = await sasha.put(SETTINGS, json={"display_name": "Са\x07ша"})
            listed = {o["login"]: o for o in (await sasha.get("/api/operators")).json()}
        first_joined = [m["text"] for m in await polled(customer, "v1") if m["sender"] == "system"][-1]
        second_joined = [m["text"] for m in await polled(customer, "v2") if m["sender"] == "system"][-1]
    assert first_joined == "С вами на связи оператор Саша."
    assert changed.status_code == 200 and changed.json()["display_name"] == "Александра"
    assert changed.json()["grammatical_gender"] == "female" and changed.json()["language"] == "ru"
    assert second_joined == "Александра (оператор) подключилась к чату."
    assert hi.json()["text"] == "Здравствуйте! Меня зовут Александра, я помогу разобраться."
    assert bad_language.status_code == 422
    assert empty_name.status_code == 422 and empty_name.json()["detail"] == "имя не может быть пустым"
    assert control.status_code == 422
    assert listed["sasha"]["grammatical_gender"] == "female"


async def test_the_first_admin_has_a_name_in_the_bots_language(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTDESK_ADMIN_PASSWORD", "admin-password-for-tests")
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await ask_for_a_person(customer, "v1")
        async with logged_in(base, "admin", "admin-password-for-tests") as admin:
            me = (await admin.get("/api/me")).json()
            ticket = (await admin.get("/api/queue")).json()["waiting"][0]["ticket_id"]
            await admin.post(f"/api/tickets/{ticket}/claim")
            hi = await admin.post(f"/api/tickets/{ticket}/reply", json={"text": "/hi"})
    assert me["display_name"] == "Администратор"
    assert "Administrator" not in hi.json()["text"]


async def test_admins_manage_the_quick_phrases(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "boss", OperatorRole.ADMIN, name="Ольга")
        await add_operator(app, "anna", name="Анна")
        await ask_for_a_person(customer, "v1")
        async with logged_in(base, "boss") as boss, logged_in(base, "anna") as anna:
            seeded = (await boss.get("/api/admin/quick-phrases")).json()
            added = await boss.post(
                "/api/admin/quick-phrases", json={"shortcut": "/Thanks", "text": "Спасибо, {operator}!"}
            )
            again = await boss.post(
                "/api/admin/quick-phrases", json={"shortcut": "/thanks", "text": "ещё раз"}
            )
            bad_shortcut = await boss.post(
                "/api/admin/quick-phrases", json={"shortcut": "thanks me", "text": "x"}
            )
            too_long = await boss.post(
                "/api/admin/quick-phrases", json={"shortcut": "/long", "text": "я" * 1001}
            )
            control = await boss.post(
                "/api/admin/quick-phrases", json={"shortcut": "/bell", "text": "дзынь\x07"}
            )
            wait_id = next(p["id"] for p in seeded if p["shortcut"] == "/wait")
            changed = await boss.put(
                f"/api/admin/quick-phrases/{wait_id}", json={"shortcut": "/wait", "text": "Секунду, смотрю."}
            )
            bye_id = next(p["id"] for p in seeded if p["shortcut"] == "/bye")
            deleted = await boss.delete(f"/api/admin/quick-phrases/{bye_id}")
            gone = await boss.put(
                f"/api/admin/quick-phrases/{bye_id}", json={"shortcut": "/bye", "text": "x"}
            )
            operator_may_not = await anna.post(
                "/api/admin/quick-phrases", json={"shortcut": "/x", "text": "x"}
            )
            ticket = (await anna.get("/api/queue")).json()["waiting"][0]
            await anna.post(f"/api/tickets/{ticket['ticket_id']}/claim")
            view = (await anna.get(f"/api/conversations/{ticket['conversation_id']}")).json()
            thanks = await anna.post(f"/api/tickets/{ticket['ticket_id']}/reply", json={"text": "/thanks"})
            listed = (await boss.get("/api/admin/quick-phrases")).json()
    assert [p["shortcut"] for p in seeded] == ["/hi", "/wait", "/order", "/bye"]  # from config.yml, in order
    assert added.status_code == 201 and added.json()["shortcut"] == "/thanks"  # one form: lower case
    assert again.status_code == 409 and again.json()["detail"] == "сокращение /thanks уже занято"
    assert bad_shortcut.status_code == 422 and "сокращение — это /" in bad_shortcut.json()["detail"]
    assert too_long.status_code == 422 and control.status_code == 422
    assert changed.json()["text"] == "Секунду, смотрю."
    assert deleted.json() == {"id": bye_id, "deleted": True} and gone.status_code == 404
    assert operator_may_not.status_code == 403
    assert view["quick_phrases"] == {
        "/hi": "Здравствуйте! Меня зовут Анна, я помогу разобраться.",
        "/wait": "Секунду, смотрю.",
        "/order": "Подскажите, пожалуйста, номер заказа.",
        "/thanks": "Спасибо, Анна!",
    }
    assert thanks.json()["text"] == "Спасибо, Анна!"
    assert [p["shortcut"] for p in listed] == ["/hi", "/wait", "/order", "/thanks"]


async def test_a_deleted_phrase_does_not_come_back_after_a_restart(make_app: AppFactory) -> None:
    """config.yml seeds the store once; what admins changed survives restarts."""
    first = make_app()
    async with serve(first) as (base, _):
        await add_operator(first, "boss", OperatorRole.ADMIN)
        async with logged_in(base, "boss") as boss:
            for phrase in (await boss.get("/api/admin/quick-phrases")).json():
                await boss.delete(f"/api/admin/quick-phrases/{phrase['id']}")
    second = make_app()  # the same database
    async with serve(second) as (base, _), logged_in(base, "boss") as boss:
        assert (await boss.get("/api/admin/quick-phrases")).json() == []


async def test_the_lead_answer_says_whether_a_crm_takes_it(make_app: AppFactory) -> None:
    app = make_app()  # the default bot has no CRM configured
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as customer:
        await add_operator(app, "anna")
        await ask_for_a_person(customer, "v1")
        async with logged_in(base, "anna") as anna:
            conversation = (await anna.get("/api/queue")).json()["waiting"][0]["conversation_id"]
            lead = await anna.post(
                f"/api/conversations/{conversation}/leads", json={"phone": "+79123456789", "consent": True}
            )
            page = (await anna.get("/panel")).text
    assert lead.json()["delivery"] == "kept"
    assert "Сохранить лид" in page and "Отправить в CRM" not in page
    assert "CRM не подключена" in page
