"""A local VK API for tests: real HTTP on 127.0.0.1, botdesk's own VK client pointed at it.

It speaks the methods botdesk uses, in VK's shapes (``{"response": ...}`` or
``{"error": {"error_code", "error_msg", "request_params"}}``, HTTP 200 either way):
groups.getById, groups.getLongPollServer, groups.setLongPollSettings, users.get,
messages.send (``random_id`` deduplicated per dialogue, as VK does), messages.getById,
messages.getConversations (``filter=unanswered``),
photos.getMessagesUploadServer / photos.saveMessagesPhoto, docs.getMessagesUploadServer /
docs.save, plus the Bots Long Poll server (``act=a_check``, ``failed`` 1/2/3), the upload
servers and file downloads. It records every call and can be told to refuse the next
calls of a method with a VK error (6, 9, 901...). Tests put customers' events in with
``text()``, ``press()``, ``photo()``, ``doc()``, ``deny()``/``allow()``: queued for Long Poll
and returned, with the secret key, for a Callback API POST (``callback()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
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

GROUP_ID = 229000111
TOKEN = "vk1.a.TEST_fake-group-token_abcdefghijklmnopqrstuvwxyz0123456789"
SECRET = "testsecret123"
CONFIRMATION = "a1b2c3d4"
SLOW_MACHINE = httpx.Timeout(30.0)  # a loaded test machine answers slowly; no test measures time
LONG_POLL_CAP = 0.3  # seconds a long-poll request waits here at most, whatever its wait says
ERRORS = {
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    9: "Flood control",
    10: "Internal server error",
    100: "One of the parameters specified was missing or invalid",
    900: "Can't send messages for users from blacklist",
    901: "Can't send messages for users without permission",
    902: "Can't send messages to this user due to their privacy settings",
    914: "Message is too long",
}


class ApiError(Exception):
    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message or ERRORS.get(code, "error"))
        self.code, self.message = code, message or ERRORS.get(code, "error")


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, str]

    def keyboard(self) -> dict[str, Any] | None:
        raw = self.params.get("keyboard")
        return json.loads(raw) if raw else None


@dataclass
class Failure:
    code: int
    times: int
    after: bool = False  # done first, then the error: VK's answer lost on the way


class FakeVk:
    """One community's VK; ``base_url`` is what VK_API_BASE_URL must say (set by the fixture)."""

    def __init__(self, token: str = TOKEN, group_id: int = GROUP_ID) -> None:
        self.token = token
        self.group_id = group_id
        self.url = ""  # http://127.0.0.1:PORT, set by the fixture
        self.calls: list[Call] = []
        self.delivered: list[dict[str, Any]] = []  # messages that reached a customer (not a random_id repeat)
        self.events: list[tuple[int, dict[str, Any]]] = []  # (ts, event) for Long Poll
        self.messages: dict[int, dict[str, Any]] = {}  # every message, by id (messages.getById)
        self.files: dict[str, tuple[bytes, str]] = {}  # path -> (content, type), under /files/
        self.uploads: list[tuple[str, str, bytes]] = []  # (kind, file name, content)
        self.users: dict[int, dict[str, Any]] = {}
        self.failures: dict[str, deque[Failure]] = defaultdict(deque)
        self.poll_failures: deque[int] = deque()
        self.blocked: set[int] = set()
        self.long_poll: dict[str, Any] | None = None  # what groups.setLongPollSettings said
        self.key = secrets.token_hex(8)
        self.polls = 0
        self._ts = itertools.count(1)
        self._ids = itertools.count(1001)
        self._local_ids: dict[int, itertools.count[int]] = {}
        self._random_ids: dict[tuple[int, int], int] = {}
        self._arrived = asyncio.Event()
        self.app = Starlette(
            routes=[
                Route("/method/{method}", self._api, methods=["GET", "POST"]),
                Route("/longpoll", self._poll, methods=["GET"]),
                Route("/upload/{kind}", self._upload, methods=["POST"]),
                Route("/files/{path:path}", self._download, methods=["GET"]),
            ]
        )

    @property
    def base_url(self) -> str:
        return f"{self.url}/method"

    # ---- what customers do -----------------------------------------------------------------
    def user(self, user_id: int, first_name: str = "Иван", last_name: str = "Петров", **extra: Any) -> None:
        self.users[user_id] = {
            "id": user_id,
            "first_name": first_name,
            "last_name": last_name,
            "can_access_closed": True,
            "is_closed": False,
            **extra,
        }

    def _message(self, user_id: int, text: str, **content: Any) -> dict[str, Any]:
        local = self._local_ids.setdefault(user_id, itertools.count(1))
        message = {
            "date": int(time.time()),
            "from_id": user_id,
            "id": next(self._ids),
            "out": 0,
            "version": 10000001,
            "attachments": [],
            "conversation_message_id": next(local),
            "fwd_messages": [],
            "important": False,
            "is_hidden": False,
            "peer_id": user_id,
            "random_id": 0,
            "text": text,
            **content,
        }
        self.messages[message["id"]] = message
        return message

    def event(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        """An event with its id, queued for Long Poll; the Callback API form has the secret too."""
        event = {
            "group_id": self.group_id,
            "type": kind,
            "event_id": secrets.token_hex(20),
            "v": "5.199",
            "object": obj,
        }
        self.events.append((next(self._ts), event))
        self._arrived.set()
        return event

    def _new(self, message: dict[str, Any]) -> dict[str, Any]:
        client = {
            "button_actions": ["text", "vkpay", "open_app", "location", "open_link", "callback"],
            "keyboard": True,
            "inline_keyboard": True,
            "carousel": True,
            "lang_id": 0,
        }
        return self.event("message_new", {"message": message, "client_info": client})

    def text(
        self, user_id: int, text: str, payload: dict[str, Any] | None = None, **content: Any
    ) -> dict[str, Any]:
        """A customer's message (``content``: other fields of VK's message, e.g. an old ``date``)."""
        extra = {"payload": json.dumps(payload)} if payload is not None else {}
        return self._new(self._message(user_id, text, **extra, **content))

    def press(self, user_id: int, button: dict[str, Any]) -> dict[str, Any]:
        """A press on a keyboard button the bot sent: VK sends its label and its payload."""
        action = button["action"]
        extra = {"payload": action["payload"]} if "payload" in action else {}
        return self._new(self._message(user_id, action["label"], **extra))

    def photo(self, user_id: int, content: bytes, caption: str = "") -> dict[str, Any]:
        photo_id = next(self._ids)
        sizes = []
        for kind, width in (("s", 75), ("x", 604), ("w", 1280)):
            path = f"photos/{photo_id}_{kind}.jpg"
            self.files[path] = (content if kind == "w" else b"small", "image/jpeg")
            sizes.append({"type": kind, "url": f"{self.url}/files/{path}", "width": width, "height": width})
        photo = {
            "album_id": -3,
            "date": int(time.time()),
            "id": photo_id,
            "owner_id": user_id,
            "sizes": sizes,
        }
        photo["access_key"] = "k" + secrets.token_hex(4)
        return self._new(self._message(user_id, caption, attachments=[{"type": "photo", "photo": photo}]))

    def doc(self, user_id: int, content: bytes, title: str, ext: str) -> dict[str, Any]:
        doc_id = next(self._ids)
        path = f"docs/{doc_id}/{title}"
        self.files[path] = (content, "application/octet-stream")
        doc = {
            "id": doc_id,
            "owner_id": user_id,
            "title": title,
            "size": len(content),
            "ext": ext,
            "date": int(time.time()),
            "type": 1,
            "url": f"{self.url}/files/{path}",
        }
        return self._new(self._message(user_id, "", attachments=[{"type": "doc", "doc": doc}]))

    def deny(self, user_id: int) -> dict[str, Any]:
        self.blocked.add(user_id)
        return self.event("message_deny", {"user_id": user_id})

    def allow(self, user_id: int) -> dict[str, Any]:
        self.blocked.discard(user_id)
        return self.event("message_allow", {"user_id": user_id, "key": ""})

    async def callback(self, url: str, event: dict[str, Any], secret: str | None = SECRET) -> httpx.Response:
        """POST an event as VK's Callback API does (the secret key in the body)."""
        body = {**event, **({"secret": secret} if secret is not None else {})}
        async with httpx.AsyncClient(timeout=SLOW_MACHINE) as client:
            return await client.post(url, json=body)

    # ---- what tests script and read --------------------------------------------------------
    def fail_next(self, method: str, code: int, times: int = 1) -> None:
        """Refuse the next ``times`` calls of ``method`` with VK's error ``code``."""
        self.failures[method].append(Failure(code, times))

    def lose_next_answer(self, method: str, code: int = 10) -> None:
        """Do the next call of ``method``, then answer with an error as if the answer was lost."""
        self.failures[method].append(Failure(code, 1, after=True))

    def sent(self, method: str = "messages.send", peer_id: int | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == method and (peer_id is None or c.params.get("peer_id") == str(peer_id))
        ]

    def texts(self, peer_id: int) -> list[str]:
        """What the customer sees: each message once (a random_id sent again shows nothing new)."""
        return [m["text"] for m in self.delivered if m["peer_id"] == peer_id]

    async def wait(self, check: Callable[[], bool], seconds: float = 30.0) -> None:
        for _ in range(int(seconds / 0.02)):
            if check():
                return
            await asyncio.sleep(0.02)
        said = [(c.method, c.params.get("message")) for c in self.calls]
        assert check(), f"the fake VK never saw it; calls: {said}"

    # ---- the API ---------------------------------------------------------------------------
    async def _api(self, request: Request) -> Response:
        params: dict[str, str] = dict(request.query_params)
        if request.method == "POST":
            form = await request.form()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        method = request.path_params["method"]
        token = params.pop("access_token", "")
        params.pop("v", None)
        self.calls.append(Call(method, params))
        request_params = [{"key": "method", "value": method}, {"key": "oauth", "value": "1"}]
        try:
            if token != self.token:
                raise ApiError(5)
            failure = self._failure(method)
            if failure is not None and not failure.after:
                raise ApiError(failure.code)
            handler = getattr(self, "_" + method.replace(".", "_"), None)
            if handler is None:
                raise ApiError(3, "Unknown method passed")
            result = await handler(params)
            if failure is not None:
                raise ApiError(failure.code)
        except ApiError as exc:
            error = {"error_code": exc.code, "error_msg": exc.message, "request_params": request_params}
            return JSONResponse({"error": error})
        return JSONResponse({"response": result})

    def _failure(self, method: str) -> Failure | None:
        failures = self.failures.get(method)
        if not failures:
            return None
        failure = failures[0]
        failure.times -= 1
        if failure.times <= 0:
            failures.popleft()
        return failure

    async def _groups_getById(self, params: dict[str, str]) -> Any:
        if params.get("group_id") not in (None, str(self.group_id)):
            raise ApiError(100)
        group = {"id": self.group_id, "name": "ВелоМаркет", "screen_name": "velomarket", "type": "group"}
        return {"groups": [{**group, "is_closed": 0}], "profiles": []}

    async def _groups_setLongPollSettings(self, params: dict[str, str]) -> Any:
        self.long_poll = params
        return 1

    async def _groups_getLongPollServer(self, params: dict[str, str]) -> Any:
        if params.get("group_id") != str(self.group_id):
            raise ApiError(100)
        self.key = secrets.token_hex(8)
        ts = self.events[-1][0] if self.events else 0
        return {"key": self.key, "server": f"{self.url}/longpoll", "ts": str(ts)}

    async def _users_get(self, params: dict[str, str]) -> Any:
        ids = [int(i) for i in params.get("user_ids", "").split(",") if i]
        return [self.users.get(i, {"id": i, "first_name": "DELETED", "last_name": ""}) for i in ids]

    async def _messages_send(self, params: dict[str, str]) -> Any:
        peer = int(params["peer_id"])
        if "random_id" not in params:
            raise ApiError(
                100, "One of the parameters specified was missing or invalid: random_id is undefined"
            )
        if peer in self.blocked:
            raise ApiError(901)
        text = params.get("message", "")
        if len(text) > 4096:
            raise ApiError(914)
        if not text and not params.get("attachment"):
            raise ApiError(100, "One of the parameters specified was missing or invalid: message is empty")
        key = (peer, int(params["random_id"]))
        if key in self._random_ids:  # VK's idempotency: the same message, not a new one
            return self._random_ids[key]
        message = {
            "id": next(self._ids),
            "peer_id": peer,
            "text": text,
            "keyboard": json.loads(params["keyboard"]) if params.get("keyboard") else None,
            "attachment": params.get("attachment"),
            "random_id": key[1],
        }
        self._random_ids[key] = message["id"]
        self.delivered.append(message)
        return message["id"]

    async def _messages_getConversations(self, params: dict[str, str]) -> Any:
        """Dialogues whose last message is the customer's, newest first (``filter=unanswered``)."""
        if params.get("filter") != "unanswered" or params.get("group_id") != str(self.group_id):
            raise ApiError(100)
        last: dict[int, dict[str, Any]] = {}
        for message in self.messages.values():
            last[message["peer_id"]] = message
        items = []
        for peer, message in sorted(last.items(), key=lambda pair: -pair[1]["id"]):
            if any(m["peer_id"] == peer and m["id"] > message["id"] for m in self.delivered):
                continue  # answered
            conversation = {"peer": {"id": peer, "type": "user", "local_id": peer}, "unanswered": True}
            items.append({"conversation": conversation, "last_message": message})
        return {"count": len(items), "items": items[: int(params.get("count") or 20)]}

    async def _messages_getById(self, params: dict[str, str]) -> Any:
        ids = [int(i) for i in params.get("message_ids", "").split(",") if i]
        items = [self.messages[i] for i in ids if i in self.messages]
        return {"count": len(items), "items": items}

    async def _photos_getMessagesUploadServer(self, params: dict[str, str]) -> Any:
        return {
            "album_id": -64,
            "upload_url": f"{self.url}/upload/photo?peer={params.get('peer_id')}",
            "user_id": 0,
            "group_id": self.group_id,
        }

    async def _photos_saveMessagesPhoto(self, params: dict[str, str]) -> Any:
        if not params.get("photo") or not params.get("hash"):
            raise ApiError(100)
        photo_id = next(self._ids)
        return [
            {
                "album_id": -64,
                "date": int(time.time()),
                "id": photo_id,
                "owner_id": -self.group_id,
                "access_key": "ak" + str(photo_id),
                "sizes": [],
                "text": "",
            }
        ]

    async def _docs_getMessagesUploadServer(self, params: dict[str, str]) -> Any:
        if params.get("type") != "doc":
            raise ApiError(100)
        return {"upload_url": f"{self.url}/upload/doc?peer={params.get('peer_id')}"}

    async def _docs_save(self, params: dict[str, str]) -> Any:
        if not params.get("file"):
            raise ApiError(100)
        doc_id = next(self._ids)
        return {
            "type": "doc",
            "doc": {
                "id": doc_id,
                "owner_id": -self.group_id,
                "title": params.get("title"),
                "size": 1,
                "ext": "pdf",
                "url": f"{self.url}/files/none",
                "type": 1,
            },
        }

    # ---- the other servers -----------------------------------------------------------------
    async def _poll(self, request: Request) -> Response:
        params = request.query_params
        self.polls += 1
        if params.get("act") != "a_check" or params.get("key") != self.key:
            return JSONResponse({"failed": 2})
        if self.poll_failures:
            failed = self.poll_failures.popleft()
            last = self.events[-1][0] if self.events else 0
            return JSONResponse({"failed": failed, **({"ts": last} if failed == 1 else {})})
        ts = int(params.get("ts") or 0)
        waiting = [e for t, e in self.events if t > ts]
        if not waiting:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._arrived.wait(), min(float(params.get("wait") or 0), LONG_POLL_CAP)
                )
            waiting = [e for t, e in self.events if t > ts]
        last = self.events[-1][0] if self.events else ts
        return JSONResponse({"ts": str(max(last, ts)), "updates": waiting})

    async def _upload(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        form = await request.form()
        field = "photo" if kind == "photo" else "file"
        upload = form.get(field)
        if upload is None or isinstance(upload, str):
            return JSONResponse({"error": "no file"})
        content = await upload.read()
        self.uploads.append((kind, str(upload.filename), content))
        if kind == "photo":
            return JSONResponse(
                {
                    "server": 852,
                    "photo": json.dumps([{"photo": "abc", "sizes": []}]),
                    "hash": secrets.token_hex(8),
                }
            )
        return JSONResponse({"file": secrets.token_hex(16)})

    async def _download(self, request: Request) -> Response:
        path = request.path_params["path"]
        self.calls.append(Call("download", {"path": path}))
        if path not in self.files:
            return Response(status_code=404)
        content, kind = self.files[path]
        return Response(content, media_type=kind)
