"""Files in the widget and the panel through real HTTP (uvicorn on 127.0.0.1): limits, sessions, headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
from sqlalchemy import func, select

from bot.project import Project
from bot.store import Message, Sender
from bot.store.models import StoredFileRow
from tests.channels.webchat.test_socket import COMPLAINT, frames_until, opened, say, widget
from tests.helpers import files
from tests.helpers.server import AppFactory, project_with, serve, state_of
from tests.server.api_helpers import add_operator, ask_for_a_person, logged_in

VISITOR = "visitor-0123456789abcdef"
STRANGER = "visitor-fedcba9876543210"


def as_visitor(visitor: str, name: str = "", **extra: str) -> dict[str, str]:
    headers = {"X-Botdesk-Visitor": visitor, "Content-Type": "application/octet-stream", **extra}
    if name:
        headers["X-File-Name"] = quote(name)
    return headers


async def stored_files(app: object) -> int:
    async with state_of(app).db.reader() as session:  # type: ignore[arg-type]
        return int(await session.scalar(select(func.count()).select_from(StoredFileRow)) or 0)


async def test_a_customer_sends_a_photo_and_only_they_and_operators_can_open_it(make_app: AppFactory) -> None:
    app = make_app()
    photo = files.png()
    async with serve(app) as (base, _), widget(base) as socket, httpx.AsyncClient(base_url=base) as http:
        await opened(socket)
        answer = await http.post(
            "/widget/files", content=photo, headers=as_visitor(VISITOR, "чек.jpg", **{"X-Client-Id": "f1"})
        )
        assert answer.status_code == 200, answer.text
        sent = answer.json()["message"]
        (shown,) = sent["files"]
        assert (sent["sender"], sent["client_id"]) == ("customer", "f1")
        assert shown["name"] == "чек.jpg.png" and shown["mime"] == "image/png" and shown["inline"] is True
        # The other open windows get it, then the bot answers as to any picture.
        frames = await frames_until(socket, lambda f: "понимаю только текст" in str(f.get("text")))
        assert frames[0]["files"] == [shown]

        got = await http.get(f"/widget/files/{shown['id']}", headers={"X-Botdesk-Visitor": VISITOR})
        assert got.status_code == 200 and got.content == photo
        assert got.headers["content-type"] == "image/png"
        assert got.headers["content-disposition"].startswith("inline;")
        assert got.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in got.headers["content-security-policy"]

        stranger = await http.get(f"/widget/files/{shown['id']}", headers={"X-Botdesk-Visitor": STRANGER})
        assert stranger.status_code == 404
        assert (await http.get(f"/widget/files/{shown['id']}")).status_code == 403  # no visitor id
        assert (await http.get(f"/api/files/{shown['id']}")).status_code == 401  # the panel's route
        assert (await http.get(f"/widget/files/{'x' * 32}", headers=as_visitor(VISITOR))).status_code == 404

        async with widget(base) as again:  # a reload: the file is in the history
            _, history = await opened(again)
        assert [m.get("files") for m in history if m["sender"] == "customer"] == [[shown]]

        await add_operator(app, "anna", name="Анна")
        async with logged_in(base, "anna") as panel:
            opened_by_operator = await panel.get(f"/api/files/{shown['id']}")
            assert opened_by_operator.status_code == 200 and opened_by_operator.content == photo
            assert opened_by_operator.headers["x-content-type-options"] == "nosniff"

    async with state_of(app).db.reader() as session:
        (message,) = await session.scalars(select(Message).where(Message.sender == Sender.CUSTOMER))
        row = await session.get(StoredFileRow, shown["id"])
    assert message.text == "" and message.attachments[0]["file_id"] == shown["id"]
    assert row is not None and row.message_id == message.id  # linked: this is what access is checked on


async def test_files_over_the_limit_or_of_a_refused_type_are_not_kept(
    make_app: AppFactory, trained_ru: Project, tmp_path: Path
) -> None:
    limit = 64 * 1024
    app = make_app(project_with(trained_ru, tmp_path / "bot", {"max_bytes: 10485760": f"max_bytes: {limit}"}))
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as http:
        declared = await http.post(
            "/widget/files", content=b"x" * (limit + 1), headers=as_visitor(VISITOR, "big.txt")
        )
        assert declared.status_code == 413

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while it streams
            for _ in range(limit // 1024 + 200):
                yield b"y" * 1024

        streamed = await http.post("/widget/files", content=chunks(), headers=as_visitor(VISITOR, "big.txt"))
        assert streamed.status_code == 413
        assert "до 64 КБ" in streamed.json()["detail"]
        for content, name in ((files.HTML, "photo.jpg"), (files.SVG, "logo.png"), (files.EXE, "a.pdf")):
            refused = await http.post("/widget/files", content=content, headers=as_visitor(VISITOR, name))
            assert refused.status_code == 415, name
            assert "не принимаются" in refused.json()["detail"]  # the customer's language
        bad_visitor = await http.post("/widget/files", content=files.PDF, headers=as_visitor("short"))
        assert bad_visitor.status_code == 403
        preflight = await http.options(
            "/widget/files",
            headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 204
        assert "X-Botdesk-Visitor" in preflight.headers["access-control-allow-headers"]
    assert await stored_files(app) == 0


async def test_an_operator_sends_a_file_and_the_customer_gets_it(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), widget(base) as socket, httpx.AsyncClient(base_url=base) as http:
        await opened(socket)
        await say(socket, COMPLAINT, "c1")
        await add_operator(app, "anna", name="Анна")
        await add_operator(app, "boris", name="Борис")
        (entry,) = await state_of(app).operators.queue()
        async with logged_in(base, "anna") as anna, logged_in(base, "boris") as boris:
            upload = f"/api/uploads/tickets/{entry.ticket_id}"
            headers = {"Content-Type": "application/pdf", "X-File-Name": quote("инструкция.pdf")}
            not_held = await anna.post(upload, content=files.PDF, headers=headers)
            assert not_held.status_code == 409  # not claimed yet: nothing kept
            assert (await anna.post(f"/api/tickets/{entry.ticket_id}/claim")).status_code == 200
            assert (await boris.post(upload, content=files.PDF, headers=headers)).status_code == 409
            no_csrf = await anna.post(upload, content=files.PDF, headers={**headers, "X-CSRF-Token": ""})
            assert no_csrf.status_code == 403
            refused = await anna.post(upload, content=files.HTML, headers=headers)
            assert refused.status_code == 415 and "cannot be sent" not in refused.json()["detail"]
            sent = await anna.post(upload, content=files.PDF, headers=headers)
            assert sent.status_code == 200, sent.text
            message = sent.json()
            (attachment,) = message["attachments"]
            assert message["sender"] == "operator" and attachment["file_name"] == "инструкция.pdf"
            assert attachment["url"] == f"/api/files/{attachment['file_id']}"

        frames = await frames_until(socket, lambda f: bool(f.get("files")))
        (shown,) = frames[-1]["files"]
        assert frames[-1]["sender_name"] == "Анна" and shown["inline"] is False
        got = await http.get(f"/widget/files/{shown['id']}", headers={"X-Botdesk-Visitor": VISITOR})
        assert got.status_code == 200 and got.content == files.PDF
        assert got.headers["content-disposition"].startswith("attachment;")
        stranger = await http.get(f"/widget/files/{shown['id']}", headers={"X-Botdesk-Visitor": STRANGER})
        assert stranger.status_code == 404


async def test_a_channel_that_cannot_take_files_is_refused_with_a_sentence(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _), httpx.AsyncClient(base_url=base) as rest:
        await ask_for_a_person(rest, "rest-customer-1")
        await add_operator(app, "anna", name="Анна")
        (entry,) = await state_of(app).operators.queue()
        async with logged_in(base, "anna") as anna:
            assert (await anna.post(f"/api/tickets/{entry.ticket_id}/claim")).status_code == 200
            refused = await anna.post(
                f"/api/uploads/tickets/{entry.ticket_id}",
                content=files.PDF,
                headers={"Content-Type": "application/pdf", "X-File-Name": "a.pdf"},
            )
    assert refused.status_code == 409
    assert "не может получать файлы" in refused.json()["detail"]  # the operator's language (the bot's: ru)
    assert await stored_files(app) == 0
