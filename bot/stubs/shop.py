"""A stand-in shop API with a few orders, for ``make run``, the demo and the tests.

``GET /api/orders/{number}`` answers the order as JSON (404 when there is none):
``{"number", "status", "status_text", "delivery": {"service", "eta", "eta_text"},
"tracking"}``. Like the CRM stub it can be told to fail, so the bot's "shop is down"
path can be tried for real: ``POST /_fail {"status": 503, "count": 2}`` makes the next
two requests answer 503 (``--fail 503`` at start). It has no authentication: run it on
127.0.0.1 only. The default bot's ``action_order_status`` (stories/orders.yml) calls it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from bot.stubs.crm import FailRequest, FailureSwitch

ORDER_NUMBER = re.compile(r"^\d{6,8}$")
MAX_ORDERS_FILE_BYTES = 1024 * 1024

# Demo orders of the default bot's shop (statuses as the shop's own API would word them).
DEMO_ORDERS: dict[str, dict[str, Any]] = {
    "1234567": {
        "number": "1234567",
        "status": "in_transit",
        "status_text": "передан в службу доставки и едет к вам",
        "delivery": {"service": "СДЭК", "eta": "2026-12-10", "eta_text": "10 декабря"},
        "tracking": "1098765432",
    },
    "7654321": {
        "number": "7654321",
        "status": "ready_for_pickup",
        "status_text": "ждёт вас в пункте выдачи",
        "delivery": {"service": "самовывоз", "eta": "2026-12-05", "eta_text": "уже на месте"},
        "tracking": None,
    },
    "5550123": {
        "number": "5550123",
        "status": "processing",
        "status_text": "собирается на складе",
        "delivery": {"service": "курьер", "eta": "2026-12-12", "eta_text": "12 декабря"},
        "tracking": None,
    },
    "845120": {
        "number": "845120",
        "status": "delivered",
        "status_text": "доставлен",
        "delivery": {"service": "Почта России", "eta": "2026-11-30", "eta_text": "30 ноября"},
        "tracking": "80082412345678",
    },
}


def load_orders(path: Path | None) -> dict[str, dict[str, Any]]:
    """The demo orders, or a JSON list of orders (each with a ``number``) from ``path``."""
    if path is None:
        return {k: dict(v) for k, v in DEMO_ORDERS.items()}
    if path.stat().st_size > MAX_ORDERS_FILE_BYTES:
        raise ValueError(f"{path} is larger than {MAX_ORDERS_FILE_BYTES} bytes")
    items = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(items, list) or not all(isinstance(i, dict) and i.get("number") for i in items):
        raise ValueError(f"{path}: expected a JSON list of orders, each with a 'number'")
    return {str(item["number"]): item for item in items}


def create_shop_app(
    orders: dict[str, dict[str, Any]] | None = None, *, fail: FailRequest | None = None
) -> FastAPI:
    known = dict(DEMO_ORDERS if orders is None else orders)
    failures = FailureSwitch()
    if fail is not None:
        failures.set(fail)
    app = FastAPI(title="botdesk shop stub", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.failures = failures

    @app.get("/api/orders/{number}")
    async def get_order(number: str) -> JSONResponse:
        simulated = failures.take()
        if simulated is not None:
            return JSONResponse({"error": "simulated failure"}, status_code=simulated)
        if not ORDER_NUMBER.match(number):
            return JSONResponse({"error": "an order number is 6 to 8 digits"}, status_code=404)
        order = known.get(number)
        if order is None:
            return JSONResponse({"error": "no such order"}, status_code=404)
        return JSONResponse(order)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "orders": len(known)})

    @app.get("/_fail")
    async def fail_state() -> JSONResponse:
        return JSONResponse(failures.state())

    @app.post("/_fail")
    async def set_fail(request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > 1024:
            return JSONResponse({"error": "body too large"}, status_code=413)
        try:
            wanted = FailRequest.model_validate_json(body or b"{}")
        except ValidationError:
            return JSONResponse({"error": "expected {status, count}"}, status_code=422)
        failures.set(wanted)
        return JSONResponse(failures.state())

    @app.delete("/_fail")
    async def clear_fail() -> JSONResponse:
        failures.set(FailRequest(status=None))
        return JSONResponse(failures.state())

    return app
