"""``botdesk shop-stub``: run the stand-in shop API the default bot asks for order statuses."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli import app
from bot.errors import ConfigError

HostOption = Annotated[str, typer.Option(help="Address to listen on; keep it local, the stub has no login.")]
PortOption = Annotated[int, typer.Option(help="Port to listen on (the bot's BOTDESK_SHOP_URL points here).")]
OrdersOption = Annotated[
    Path | None, typer.Option(help="JSON list of orders to serve instead of the demo orders.")
]
FailOption = Annotated[
    str | None,
    typer.Option(
        envvar="BOTDESK_SHOP_STUB_FAIL",
        help="Start failing: STATUS (until POST /_fail clears it) or STATUS:COUNT, e.g. 503:3.",
    ),
]


@app.command("shop-stub")
def shop_stub(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8091,
    orders: OrdersOption = None,
    fail: FailOption = None,
) -> None:
    """Run the shop stub (GET /api/orders/NUMBER, GET /healthz, POST /_fail) under uvicorn."""
    import uvicorn

    from bot.stubs.crm import parse_fail
    from bot.stubs.shop import create_shop_app, load_orders

    try:
        failure = parse_fail(fail) if fail else None
        served = load_orders(orders)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"shop-stub: {exc}") from None
    uvicorn.run(create_shop_app(served, fail=failure), host=host, port=port, log_level="info")
