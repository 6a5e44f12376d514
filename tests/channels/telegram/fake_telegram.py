"""A local Telegram Bot API for tests: real HTTP on 127.0.0.1, python-telegram-bot pointed at it.

It speaks the methods botdesk uses (getMe, getUpdates, sendMessage, sendPhoto,
setWebhook, deleteWebhook, getFile and the file download, answerCallbackQuery,
editMessageReplyMarkup, sendChatAction), records every call, and can be told to
refuse the next calls of a method the way Telegram does: 429 with ``retry_after``,
403 "bot was blocked by the user". Tests put customers' updates in with ``text()``,
``press()``, ``contact()``, ``photo()``, ``edit()`` and ``blocked()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

BOT_ID = 7000001
TOKEN = f"{BOT_ID}:TEST-fake_token-abcdefghijklmnop"
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "VeloMarket bot", "username": "velomarket_bot"}
LONG_POLL_CAP = 0.3  # seconds a getUpdates waits here at most, whatever its timeout says


class ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Upload:
    """A file the client uploaded with a call (multipart/form-data)."""

    filename: str
    content: bytes


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None
    times: int


class FakeTelegram:
    """One bot's Bot API; ``base_url`` is what TELEGRAM_API_BASE_URL must say (set by the fixture)."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.base_url = ""
        self.calls: list[Call] = []
        self.pending: list[dict[str, Any]] = []
        self.files: dict[str, tuple[str, bytes]] = {}
        self.failures: dict[str, deque[Failure]] = defaultdict(deque)
        self.webhook: dict[str, Any] | None = None
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(5000)
        self._arrived = asyncio.Event()
        self.app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._api, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._download, methods=["GET"]),
            ]
        )

    # ---- what customers do -----------------------------------------------------------------
    def user(self, user_id: int, first_name: str = "Иван", **extra: Any) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "ru", **extra}

    def message(self, user_id: int, **content: Any) -> dict[str, Any]:
        user = content.pop("user", None) or self.user(user_id)
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": user["first_name"]},
            "from": user,
            **content,
        }

    def update(self, **content: Any) -> dict[str, Any]:
        """An update with the next id, not yet queued (webhook tests POST it themselves)."""
        return {"update_id": next(self._ids), **content}

    def put(self, update: dict[str, Any]) -> dict[str, Any]:
        self.pending.append(update)
        self._arrived.set()
        return update

    def text(self, user_id: int, text: str, **user: Any) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        if user:
            content["user"] = self.user(user_id, **user)
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self.put(self.update(message=self.message(user_id, **content)))

    def edit(self, original: dict[str, Any], text: str) -> dict[str, Any]:
        edited = {**original["message"], "text": text, "edit_date": int(time.time()) + 1}
        return self.put(self.update(edited_message=edited))

    def press(self, user_id: int, data: str, sent: Call | None = None) -> dict[str, Any]:
        """A press on an inline button of a message the bot sent (``sent``, a sendMessage call)."""
        message = self.message(user_id, text=(sent.params.get("text") if sent else "..."))
        message["from"] = BOT_USER
        if sent is not None and "reply_markup" in sent.params:
            message["reply_markup"] = sent.params["reply_markup"]
        query = {
            "id": f"query-{next(self._ids)}",
            "from": self.user(user_id),
            "chat_instance": f"chat-{user_id}",
            "message": message,
            "data": data,
        }
        return self.put(self.update(callback_query=query))

    def contact(self, user_id: int, phone: str, own: bool = True) -> dict[str, Any]:
        contact = {"phone_number": phone, "first_name": "Иван", "user_id": user_id if own else user_id + 1}
        return self.put(self.update(message=self.message(user_id, contact=contact)))

    def photo(self, user_id: int, content: bytes, caption: str | None = None) -> dict[str, Any]:
        file_id = f"AgACphoto{next(self._ids)}-big"
        self.files[file_id] = (f"photos/{file_id}.jpg", content)
        sizes = [
            {"file_id": file_id + "-small", "file_unique_id": "small", "width": 90, "height": 90},
            {"file_id": file_id, "file_unique_id": f"u{file_id}", "width": 800, "height": 600},
        ]
        extra = {"caption": caption} if caption else {}
        return self.put(self.update(message=self.message(user_id, photo=sizes, **extra)))

    def blocked(self, user_id: int, blocked: bool = True) -> dict[str, Any]:
        old, new = ("member", "kicked") if blocked else ("kicked", "member")

        def member(status: str) -> dict[str, Any]:
            return {"user": BOT_USER, "status": status, **({"until_date": 0} if status == "kicked" else {})}

        change = {
            "chat": {"id": user_id, "type": "private", "first_name": "Иван"},
            "from": self.user(user_id),
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
        return self.put(self.update(my_chat_member=change))

    # ---- what tests script and read --------------------------------------------------------
    def fail_next(
        self, method: str, status: int, description: str, retry_after: int | None = None, times: int = 1
    ) -> None:
        self.failures[method].append(Failure(status, description, retry_after, times))

    def sent(self, method: str = "sendMessage", chat_id: int | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == method and (chat_id is None or c.params.get("chat_id") == chat_id)
        ]

    def texts(self, chat_id: int) -> list[str]:
        return [str(c.params.get("text")) for c in self.sent("sendMessage", chat_id)]

    async def wait(self, check: Callable[[], bool], seconds: float = 10.0) -> None:
        for _ in range(int(seconds / 0.02)):
            if check():
                return
            await asyncio.sleep(0.02)
        said = [(c.method, c.params.get("text")) for c in self.calls]
        assert check(), f"the fake Telegram never saw it; calls: {said}"

    # ---- the HTTP side ---------------------------------------------------------------------
    async def _params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query_params)
        if request.headers.get("content-type", "").startswith("application/json"):
            params.update(await request.json())
        elif request.method == "POST":
            form = await request.form()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
            for key, value in form.items():  # an uploaded file (sendPhoto, sendDocument): its name and bytes
                if not isinstance(value, str):
                    params[key] = Upload(str(value.filename or ""), await value.read())
        for key, value in list(params.items()):
            if (isinstance(value, str) and value[:1] in "[{") or key in (
                "chat_id",
                "offset",
                "timeout",
                "message_id",
            ):
                with contextlib.suppress(TypeError, ValueError):
                    params[key] = json.loads(value)
        return params

    async def _api(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        method = request.path_params["method"]
        params = await self._params(request)
        if method != "getUpdates":
            self.calls.append(Call(method, params))
        failures = self.failures.get(method)
        if failures:
            failure = failures[0]
            failure.times -= 1
            if failure.times <= 0:
                failures.popleft()
            body: dict[str, Any] = {
                "ok": False,
                "error_code": failure.status,
                "description": failure.description,
            }
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            return JSONResponse(body, failure.status)
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return JSONResponse(
                {"ok": False, "error_code": 404, "description": "Not Found: method not found"}, 404
            )
        try:
            result = await handler(params)
        except ApiError as exc:
            return JSONResponse(
                {"ok": False, "error_code": exc.status, "description": exc.description}, exc.status
            )
        return JSONResponse({"ok": True, "result": result})

    async def _getMe(self, params: dict[str, Any]) -> Any:
        return {
            **BOT_USER,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        self.pending = [u for u in self.pending if u["update_id"] >= offset]
        if not self.pending:
            self._arrived.clear()
            wait = min(float(params.get("timeout") or 0), LONG_POLL_CAP)
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), wait)
        return list(self.pending)

    async def _deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = None
        if str(params.get("drop_pending_updates")).lower() == "true":
            self.pending.clear()
        return True

    async def _setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = params
        return True

    async def _sendMessage(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Иван"},
            "from": BOT_USER,
            "text": params.get("text", ""),
        }
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message

    async def _sendPhoto(self, params: dict[str, Any]) -> Any:
        message = await self._sendMessage({**params, "text": ""})
        message.pop("text")
        message["photo"] = [{"file_id": "sent-photo", "file_unique_id": "sent", "width": 1, "height": 1}]
        return message

    async def _sendDocument(self, params: dict[str, Any]) -> Any:
        message = await self._sendMessage({**params, "text": ""})
        message.pop("text")
        message["document"] = {"file_id": "sent-document", "file_unique_id": "sent-doc"}
        return message

    async def _answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        return True

    async def _editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        return True

    async def _sendChatAction(self, params: dict[str, Any]) -> Any:
        return True

    async def _getFile(self, params: dict[str, Any]) -> Any:
        file_id = str(params.get("file_id"))
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, content = self.files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(content),
            "file_path": path,
        }

    async def _download(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return Response(status_code=401)
        self.calls.append(Call("download", {"path": request.path_params["path"]}))
        for path, content in self.files.values():
            if path == request.path_params["path"]:
                return Response(content, media_type="application/octet-stream")
        return Response(status_code=404)
