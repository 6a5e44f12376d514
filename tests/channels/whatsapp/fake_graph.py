"""A local WhatsApp Cloud API (Graph API) for tests: real HTTP on 127.0.0.1, the real channel pointed at it.

It answers what botdesk calls, in Graph's shapes: the phone number (``GET /{version}/{id}``),
``POST /{version}/{id}/messages`` (checked against WhatsApp's limits: 4096 characters of
text, 3 reply buttons with 20-character titles, 10 list rows...; a message over them is
refused with error 100 as WhatsApp does, and kept in ``invalid``), media
(``GET /{version}/{media-id}`` -> a download URL that wants the bearer token, uploads to
``/{version}/{id}/media``), and a picture host without a token. Every call must carry the
bearer token (else 401, error 190). ``fail_next`` makes the next calls fail with a Graph
error (130429 rate limit, 131026 undeliverable, 131047 re-engagement...).

The customer's side is Meta's: ``text()``, ``button()``, ``row()``, ``image()`` and
``status()`` build webhook payloads, and ``notify()`` POSTs one to botdesk, signed with
the app secret (or not, or wrongly).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "EAAtestTOKEN0123456789abcdef"
APP_SECRET = "app-secret-0123456789abcdef"
VERIFY_TOKEN = "verify-me-0123456789"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_NUMBER = "15550783881"
VERSION = "v23.0"
WABA_ID = "102290129340398"


@dataclass(frozen=True)
class Sent:
    """A message botdesk sent: to whom, what (Graph's JSON), and the wamid it got."""

    to: str
    payload: dict[str, Any]
    wamid: str

    @property
    def kind(self) -> str:
        return str(self.payload.get("type"))

    @property
    def text(self) -> str:
        """The words the customer reads: a text's body or an interactive message's body."""
        if self.kind == "text":
            return str(self.payload["text"]["body"])
        if self.kind == "interactive":
            return str(self.payload["interactive"]["body"]["text"])
        return ""

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(id, title) of reply buttons or list rows."""
        if self.kind != "interactive":
            return []
        action = self.payload["interactive"]["action"]
        if "buttons" in action:
            return [(b["reply"]["id"], b["reply"]["title"]) for b in action["buttons"]]
        return [(r["id"], r["title"]) for s in action["sections"] for r in s["rows"]]


@dataclass
class Failure:
    status: int
    code: int
    title: str
    times: int


def graph_error(status: int, code: int, title: str, details: str = "") -> JSONResponse:
    body = {
        "error": {
            "message": f"(#{code}) {title}",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details or title},
            "fbtrace_id": "AbCdEfGhIjKlMnOp",
        }
    }
    return JSONResponse(body, status_code=status)


class Invalid(Exception):
    """A message WhatsApp would refuse (error 100, "Invalid parameter")."""


def _check_text(value: Any, most: int, what: str) -> None:
    if not isinstance(value, str) or not value or len(value.encode("utf-16-le")) // 2 > most:
        raise Invalid(f"{what} must be 1 to {most} characters")


def check_message(body: dict[str, Any], phone_number_id: str) -> None:
    """WhatsApp's rules for the messages botdesk sends (raises ``Invalid``)."""
    if body.get("messaging_product") != "whatsapp":
        raise Invalid("messaging_product must be whatsapp")
    if not str(body.get("to", "")).isdigit():
        raise Invalid("to must be a phone number")
    kind = body.get("type")
    if kind == "text":
        _check_text(body["text"]["body"], 4096, "text.body")
    elif kind == "interactive":
        interactive = body["interactive"]
        action = interactive["action"]
        if interactive["type"] == "button":
            _check_text(interactive["body"]["text"], 1024, "body.text")
            buttons = action["buttons"]
            if not 1 <= len(buttons) <= 3:
                raise Invalid("1 to 3 buttons")
            ids = [b["reply"]["id"] for b in buttons]
            if len(set(ids)) != len(ids):
                raise Invalid("button ids must be unique")
            for button in buttons:
                _check_text(button["reply"]["id"], 256, "button id")
                _check_text(button["reply"]["title"], 20, "button title")
        elif interactive["type"] == "list":
            _check_text(interactive["body"]["text"], 4096, "body.text")
            _check_text(action["button"], 20, "action.button")
            rows = [row for section in action["sections"] for row in section["rows"]]
            if not 1 <= len(rows) <= 10:
                raise Invalid("1 to 10 rows")
            for row in rows:
                _check_text(row["id"], 200, "row id")
                _check_text(row["title"], 24, "row title")
                if "description" in row:
                    _check_text(row["description"], 72, "row description")
        else:
            raise Invalid(f"interactive type {interactive['type']} is not faked")
    elif kind in ("image", "document", "audio", "video", "sticker"):
        media = body[kind]
        if bool(media.get("id")) == bool(media.get("link")):
            raise Invalid(f"{kind} needs exactly one of id or link")
    else:
        raise Invalid(f"type {kind} is not faked")


class FakeGraph:
    """One WhatsApp business number's Cloud API; ``base_url`` is set by the fixture once it serves."""

    def __init__(self, token: str = TOKEN, phone_number_id: str = PHONE_NUMBER_ID) -> None:
        self.token = token
        self.phone_number_id = phone_number_id
        self.base_url = ""
        self.sent: list[Sent] = []
        self.invalid: list[tuple[dict[str, Any], str]] = []
        self.attempts: dict[str, int] = defaultdict(int)  # recipient -> POST /messages calls
        self.media: dict[str, tuple[str, bytes, str | None]] = {}  # id -> (mime, bytes, file name)
        self.uploads: list[str] = []
        self.pictures: dict[str, tuple[str, bytes]] = {}
        self.downloads: list[str] = []
        self.unauthorized = 0
        self.failures: dict[str, deque[Failure]] = defaultdict(deque)
        self._ids = itertools.count(1)
        self._media_ids = itertools.count(900_000_001)
        self._arrived = asyncio.Event()
        self.app = Starlette(
            routes=[
                Route("/whatsapp_business/attachments/", self._download, methods=["GET"]),
                Route("/pictures/{name}", self._picture, methods=["GET"]),
                Route("/{version}/{object_id}/messages", self._messages, methods=["POST"]),
                Route("/{version}/{object_id}/media", self._upload, methods=["POST"]),
                Route("/{version}/{object_id}", self._object, methods=["GET"]),
            ]
        )

    # ---- what customers do (Meta's webhook payloads) ---------------------------------------
    def wamid(self) -> str:
        return f"wamid.HBgLNzkwMDEyMzQ1NjcVAgASGBQz{next(self._ids):010d}"

    def envelope(self, value: dict[str, Any]) -> dict[str, Any]:
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": WABA_ID,
                    "changes": [
                        {
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": DISPLAY_NUMBER,
                                    "phone_number_id": self.phone_number_id,
                                },
                                **value,
                            },
                            "field": "messages",
                        }
                    ],
                }
            ],
        }

    def message(
        self, wa_id: str, kind: str, content: dict[str, Any], name: str = "Иван Петров"
    ) -> dict[str, Any]:
        message = {
            "from": wa_id,
            "id": self.wamid(),
            "timestamp": str(int(time.time())),
            "type": kind,
            kind: content,
        }
        return self.envelope(
            {"contacts": [{"profile": {"name": name}, "wa_id": wa_id}], "messages": [message]}
        )

    def text(self, wa_id: str, text: str, **extra: Any) -> dict[str, Any]:
        return self.message(wa_id, "text", {"body": text}, **extra)

    def button(self, wa_id: str, pressed: Sent, index: int = 0) -> dict[str, Any]:
        """A press on a reply button (or a list row) of a message botdesk sent."""
        key, title = pressed.buttons[index]
        kind = "button_reply" if "buttons" in pressed.payload["interactive"]["action"] else "list_reply"
        payload = self.message(wa_id, "interactive", {"type": kind, kind: {"id": key, "title": title}})
        payload["entry"][0]["changes"][0]["value"]["messages"][0]["context"] = {
            "from": DISPLAY_NUMBER,
            "id": pressed.wamid,
        }
        return payload

    def image(
        self, wa_id: str, data: bytes, caption: str | None = None, mime: str = "image/jpeg"
    ) -> dict[str, Any]:
        media_id = str(next(self._media_ids))
        self.media[media_id] = (mime, data, None)
        content: dict[str, Any] = {
            "mime_type": mime,
            "sha256": hashlib.sha256(data).hexdigest(),
            "id": media_id,
        }
        if caption:
            content["caption"] = caption
        return self.message(wa_id, "image", content)

    def document(
        self, wa_id: str, data: bytes, filename: str, mime: str = "application/pdf"
    ) -> dict[str, Any]:
        media_id = str(next(self._media_ids))
        self.media[media_id] = (mime, data, filename)
        content = {
            "filename": filename,
            "mime_type": mime,
            "sha256": hashlib.sha256(data).hexdigest(),
            "id": media_id,
        }
        return self.message(wa_id, "document", content)

    def status(self, sent: Sent, status: str, error: tuple[int, str] | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": sent.wamid,
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": sent.to,
        }
        if error is not None:
            code, title = error
            item["errors"] = [
                {"code": code, "title": title, "message": title, "error_data": {"details": title}}
            ]
        return self.envelope({"statuses": [item]})

    def sign(self, body: bytes, secret: str = APP_SECRET) -> str:
        return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

    async def notify(
        self,
        webhook: str,
        payload: dict[str, Any] | bytes,
        *,
        secret: str = APP_SECRET,
        signature: str | None = None,
    ) -> httpx.Response:
        """POST a webhook call to botdesk as Meta does: the raw body signed with the app secret."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature if signature is not None else self.sign(body, secret),
        }
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.post(webhook, content=body, headers=headers)

    # ---- what tests look at ------------------------------------------------------------------
    def to(self, wa_id: str) -> list[Sent]:
        return [s for s in self.sent if s.to == wa_id]

    def texts(self, wa_id: str) -> list[str]:
        return [s.text for s in self.to(wa_id) if s.text]

    def fail_next(
        self, status: int, code: int, title: str, times: int = 1, *, path: str = "messages"
    ) -> None:
        self.failures[path].append(Failure(status, code, title, times))

    async def wait(self, check: Callable[[], bool], seconds: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + seconds
        while not check():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(remaining, 0.1))
        assert check()

    # ---- the API -----------------------------------------------------------------------------
    def _authorized(self, request: Request) -> bool:
        if request.headers.get("authorization") == f"Bearer {self.token}":
            return True
        self.unauthorized += 1
        return False

    def _failure(self, path: str) -> JSONResponse | None:
        queue = self.failures[path]
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.popleft()
        return graph_error(failure.status, failure.code, failure.title)

    async def _object(self, request: Request) -> Response:
        if not self._authorized(request):
            return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        object_id = request.path_params["object_id"]
        if object_id == self.phone_number_id:
            return JSONResponse(
                {"verified_name": "VeloMarket", "display_phone_number": "+1 555-078-3881", "id": object_id}
            )
        if object_id in self.media:
            mime, data, _ = self.media[object_id]
            return JSONResponse(
                {
                    "messaging_product": "whatsapp",
                    "url": f"{self.base_url}/whatsapp_business/attachments/?mid={object_id}&hash=ATtest",
                    "mime_type": mime,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "file_size": len(data),
                    "id": object_id,
                }
            )
        return graph_error(
            400,
            100,
            f"Unsupported get request. Object with ID '{object_id}' does not exist",
            "does not exist",
        )

    async def _messages(self, request: Request) -> Response:
        if not self._authorized(request):
            return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        if request.path_params["object_id"] != self.phone_number_id:
            return graph_error(400, 100, "Unsupported post request")
        body = await request.json()
        self.attempts[str(body.get("to"))] += 1
        refused = self._failure("messages")
        if refused is not None:
            return refused
        try:
            check_message(body, self.phone_number_id)
        except (Invalid, KeyError, TypeError) as exc:
            self.invalid.append((body, str(exc)))
            return graph_error(400, 100, "Invalid parameter", str(exc))
        wamid = self.wamid()
        payload = {k: v for k, v in body.items() if k not in ("messaging_product", "recipient_type", "to")}
        self.sent.append(Sent(body["to"], payload, wamid))
        self._arrived.set()
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": wamid}],
            }
        )

    async def _upload(self, request: Request) -> Response:
        if not self._authorized(request):
            return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        refused = self._failure("media")
        if refused is not None:
            return refused
        form = await request.form()
        upload = form.get("file")
        if form.get("messaging_product") != "whatsapp" or upload is None or isinstance(upload, str):
            return graph_error(400, 100, "Invalid parameter", "messaging_product and file are required")
        data = await upload.read()
        media_id = str(next(self._media_ids))
        self.media[media_id] = (str(form.get("type")), data, upload.filename)
        self.uploads.append(media_id)
        return JSONResponse({"id": media_id})

    async def _download(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response(b"", status_code=401)
        media_id = request.query_params.get("mid", "")
        if media_id not in self.media:
            return Response(b"", status_code=404)
        mime, data, _ = self.media[media_id]
        self.downloads.append(media_id)
        return Response(data, media_type=mime)

    async def _picture(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.pictures:
            return Response(b"", status_code=404)
        mime, data = self.pictures[name]
        return Response(data, media_type=mime)
