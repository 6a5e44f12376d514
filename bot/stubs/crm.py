"""A stand-in CRM: receives lead cards from the webhook adapter, for development and tests.

It keeps the webhook contract strictly (signature, idempotency key, 409 on a repeat)
and can be told to fail, so retries and outages can be tried for real:
``POST /_fail {"status": 500, "count": 3}`` makes the next three pushes answer 500.
It has no authentication of its own: run it on 127.0.0.1 only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from bot.stubs.crm_store import StubStore
from handoff.crm.base import LeadCard
from handoff.crm.webhook import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify_signature

FAIL_ENV = "BOTDESK_CRM_STUB_FAIL"
MAX_BODY_BYTES = 256 * 1024


class FailRequest(BaseModel):
    """Body of ``POST /_fail``: answer ``status`` to the next ``count`` pushes (null: until cleared)."""

    model_config = ConfigDict(extra="forbid")

    status: int | None = Field(default=500, ge=400, le=599)
    count: int | None = Field(default=None, ge=0)
    retry_after: int | None = Field(default=None, ge=0)


@dataclass(slots=True)
class FailureSwitch:
    """Simulated outage; shared by request handlers, hence the lock."""

    status: int | None = None
    remaining: int | None = None
    retry_after: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def set(self, request: FailRequest) -> None:
        with self._lock:
            self.status, self.remaining, self.retry_after = request.status, request.count, request.retry_after
            if self.remaining == 0:
                self.status = None

    def take(self) -> int | None:
        """The status to fail this request with, or None to serve it normally."""
        with self._lock:
            if self.status is None:
                return None
            status = self.status
            if self.remaining is not None:
                self.remaining -= 1
                if self.remaining <= 0:
                    self.status, self.remaining = None, None
            return status

    def state(self) -> dict[str, Any]:
        return {"status": self.status, "remaining": self.remaining, "retry_after": self.retry_after}


def parse_fail(spec: str) -> FailRequest:
    """``"500"`` (until cleared) or ``"500:3"`` (three times), as given in BOTDESK_CRM_STUB_FAIL."""
    status, _, count = spec.strip().partition(":")
    try:
        return FailRequest(status=int(status), count=int(count) if count else None)
    except (ValueError, ValidationError):
        raise ValueError(f"expected STATUS or STATUS:COUNT (e.g. 500:3), got {spec!r}") from None


async def _read_limited(request: Request) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def create_stub_app(
    db_path: Path | str, secret: str | None = None, *, fail: FailRequest | None = None
) -> FastAPI:
    """The stub CRM over the SQLite file ``db_path``; with ``secret``, unsigned pushes get 401."""
    store = StubStore(db_path)
    failures = FailureSwitch()
    if fail is not None:
        failures.set(fail)
    app = FastAPI(title="botdesk CRM stub", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.state.failures = failures

    @app.post("/leads")
    async def post_lead(request: Request) -> JSONResponse:
        simulated = failures.take()
        if simulated is not None:
            response = _error(simulated, "simulated failure")
            if failures.retry_after is not None:
                response.headers["Retry-After"] = str(failures.retry_after)
            return response
        body = await _read_limited(request)
        if body is None:
            return _error(413, f"the card is larger than {MAX_BODY_BYTES} bytes")
        if secret is not None and not verify_signature(body, request.headers.get(SIGNATURE_HEADER), secret):
            return _error(401, f"missing or wrong {SIGNATURE_HEADER}")
        try:
            card = LeadCard.model_validate_json(body)
        except ValidationError as exc:
            # Field names and reasons only: the input may hold personal data.
            problems = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
            return _error(422, "not a valid lead card", problems=problems)
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key != card.idempotency_key:
            return _error(400, f"{IDEMPOTENCY_HEADER} must equal the card's idempotency_key")
        lead_id, created = await run_in_threadpool(store.add, key, body.decode())
        if not created:
            return _error(409, "duplicate idempotency key", id=lead_id)
        return JSONResponse({"id": lead_id}, status_code=201)

    @app.get("/leads")
    async def list_leads() -> JSONResponse:
        leads = await run_in_threadpool(store.all)
        return JSONResponse({"leads": [lead.to_dict() for lead in leads]})

    @app.get("/leads/{lead_id}")
    async def get_lead(lead_id: str) -> JSONResponse:
        lead = await run_in_threadpool(store.get, lead_id)
        return _error(404, "no such lead") if lead is None else JSONResponse(lead.to_dict())

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "leads": await run_in_threadpool(store.count)})

    @app.get("/_fail")
    async def fail_state() -> JSONResponse:
        return JSONResponse(failures.state())

    @app.post("/_fail")
    async def set_fail(request: Request) -> JSONResponse:
        try:
            wanted = FailRequest.model_validate_json(await request.body() or b"{}")
        except ValidationError as exc:
            problems = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
            return _error(422, "expected {status, count, retry_after}", problems=problems)
        failures.set(wanted)
        return JSONResponse(failures.state())

    @app.delete("/_fail")
    async def clear_fail() -> JSONResponse:
        failures.set(FailRequest(status=None))
        return JSONResponse(failures.state())

    return app
