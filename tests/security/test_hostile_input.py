"""Hostile and malformed customer text through every way in: no crash, a clear limit, nothing half-stored.

Property-based (hypothesis) over random Unicode with lone surrogates, empty and blank
text, a megabyte, binary bytes, mixed scripts, emoji, right-to-left and combining marks.
Each test starts one app (in-process, real SQLite) and feeds it a bounded number of
examples: the REST webhook, the conversation service itself, and the widget's socket.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from fastapi import FastAPI
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.channels.webchat import MAX_FRAME_CHARS
from bot.conversation import Handled
from bot.messages import InboundMessage
from bot.store import MAX_MESSAGE_CHARS, InputRejected, Message, Sender
from tests.helpers.server import AppFactory, state_of
from tests.security.hostile import ONE_MEGABYTE, hostile_text

BOUNDED = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
WEBHOOK = "/webhooks/rest/webhook"
senders = itertools.count()


def acceptable(text: str) -> bool:
    """What a channel must take: non-blank, within the cap, no NUL, encodable as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return bool(text.strip()) and len(text) <= MAX_MESSAGE_CHARS and "\x00" not in text


def stored_customer_texts(client: TestClient, app: FastAPI, sender_conversation: int) -> list[str]:
    async def read() -> list[str]:
        async with state_of(app).db.reader() as session:
            rows = await session.scalars(
                select(Message.text).where(
                    Message.conversation_id == sender_conversation, Message.sender == Sender.CUSTOMER
                )
            )
            return list(rows)

    assert client.portal is not None
    return client.portal.call(read)


def test_the_rest_webhook_answers_or_refuses_with_a_sentence(make_app: AppFactory) -> None:
    with TestClient(make_app()) as client:

        @BOUNDED
        @given(text=hostile_text)
        @example(text="\ud800")
        @example(text="я" * ONE_MEGABYTE)
        @example(text=" \t\u3000\n")
        @example(text="\x00binary\x01")
        def check(text: str) -> None:
            sender = f"hostile-{next(senders)}"
            # ensure_ascii: a lone surrogate travels as \udXXX, as a broken client would send it
            body = json.dumps({"sender": sender, "message": text}).encode("ascii")
            answer = client.post(WEBHOOK, content=body, headers={"content-type": "application/json"})
            assert answer.status_code < 500, answer.text
            if acceptable(text):
                assert answer.status_code == 200, answer.text
                replies: list[dict[str, Any]] = answer.json()
                assert replies, "every accepted message gets an answer"
                assert all(isinstance(r.get("text"), str) and r["text"] for r in replies if "image" not in r)
                assert all(r["sender"] in {"bot", "system", "operator"} for r in replies)
                return
            assert answer.status_code in {400, 413, 422}, answer.text
            detail = answer.json()["detail"]
            assert isinstance(detail, str) and len(detail) > 10 and "Traceback" not in detail
            if len(body) > 64 * 1024 or len(text) > MAX_MESSAGE_CHARS:
                assert answer.status_code == 413 and ("limit" in detail or "over" in detail), detail

        check()


def test_raw_bytes_as_the_webhook_body_are_a_clear_4xx(make_app: AppFactory) -> None:
    with TestClient(make_app()) as client:

        @BOUNDED
        @given(body=st.one_of(st.binary(max_size=2000), st.just(b"\xff" * ONE_MEGABYTE), st.just(b"\x00")))
        def check(body: bytes) -> None:
            answer = client.post(WEBHOOK, content=body, headers={"content-type": "application/json"})
            assert answer.status_code in {400, 413, 422}, (body[:50], answer.text)
            assert isinstance(answer.json()["detail"], str)

        check()


def test_the_conversation_service_stores_faithfully_or_rejects(make_app: AppFactory) -> None:
    """Below the channels: whatever a channel passes on is stored as sent and answered, or InputRejected."""
    app = make_app()
    with TestClient(app) as client:
        service = state_of(app).conversations
        assert client.portal is not None
        portal = client.portal

        @BOUNDED
        @given(text=hostile_text)
        @example(text="\ud800")
        @example(text="я" * ONE_MEGABYTE)
        @example(text=" \t\u3000\n")
        @example(text="\x00binary\x01")
        def check(text: str) -> None:
            inbound = InboundMessage(channel="rest", sender_id=f"direct-{next(senders)}", text=text)
            try:
                handled: Handled = portal.call(service.handle, inbound)
            except InputRejected as exc:
                assert not acceptable(text), f"refused acceptable text {text[:40]!r}: {exc}"
                assert str(exc)
                return
            assert acceptable(text), f"accepted {text[:40]!r}"
            assert handled.replies or handled.silent
            assert stored_customer_texts(client, app, handled.conversation_id) == [text]

        check()


def test_the_widget_answers_or_sends_an_error_frame(make_app: AppFactory) -> None:
    with TestClient(make_app()) as client:

        @settings(BOUNDED, max_examples=30)
        @given(text=hostile_text.filter(lambda t: len(json.dumps(t)) <= MAX_FRAME_CHARS))
        def check(text: str) -> None:
            visitor = f"hostile-visitor-{next(senders):08d}"
            with client.websocket_connect(f"/ws/chat?visitor={visitor}") as socket:
                assert socket.receive_json()["type"] == "status"
                assert socket.receive_json()["type"] == "history"
                socket.send_text(json.dumps({"type": "message", "text": text, "client_id": "c1"}))
                socket.send_text(json.dumps({"type": "status"}))
                frames = []
                while (frame := socket.receive_json())["type"] != "status":
                    frames.append(frame)
            if acceptable(text):
                assert frames[0]["type"] == "message" and frames[0]["text"] == text, frames
                assert any(f["type"] == "message" and f["sender"] == "bot" for f in frames[1:]), frames
            else:
                assert [f["type"] for f in frames] == ["error"], frames
                assert isinstance(frames[0]["detail"], str) and frames[0]["detail"]

        check()


def test_a_megabyte_through_the_widget_gets_an_error_frame_then_the_close(make_app: AppFactory) -> None:
    with (
        TestClient(make_app()) as client,
        client.websocket_connect("/ws/chat?visitor=hostile-visitor-megabyte") as socket,
    ):
        socket.receive_json(), socket.receive_json()
        socket.send_text(json.dumps({"type": "message", "text": "я" * ONE_MEGABYTE}))
        refusal = socket.receive_json()
        try:
            socket.receive_json()
            raise AssertionError("the socket stays open after a megabyte")
        except WebSocketDisconnect as closed:
            code = closed.code
    assert refusal["type"] == "error"
    assert "too long" in refusal["detail"] and str(MAX_MESSAGE_CHARS) in refusal["detail"]
    assert code == 1009
