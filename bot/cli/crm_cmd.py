"""``botdesk crm-stub``: run the stand-in CRM that receives lead cards over the webhook."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.cli import app
from bot.errors import ConfigError

err_console = Console(stderr=True, soft_wrap=True)


HostOption = Annotated[str, typer.Option(help="Address to listen on; keep it local, the stub has no login.")]
PortOption = Annotated[int, typer.Option(help="Port to listen on.")]
DbOption = Annotated[Path, typer.Option(help="SQLite file that keeps the received leads.")]
SecretEnvOption = Annotated[
    str, typer.Option(help="Environment variable with the webhook secret; when set, unsigned pushes get 401.")
]
FailOption = Annotated[
    str | None,
    typer.Option(
        envvar="BOTDESK_CRM_STUB_FAIL",
        help="Start failing: STATUS (until POST /_fail clears it) or STATUS:COUNT, e.g. 500:3.",
    ),
]


@app.command("crm-stub")
def crm_stub(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8088,
    db: DbOption = Path("crm-stub.db"),
    secret_env: SecretEnvOption = "BOTDESK_CRM_SECRET",
    fail: FailOption = None,
) -> None:
    """Run the CRM stub (POST /leads, GET /leads, GET /healthz, POST /_fail) under uvicorn."""
    import uvicorn

    from bot.stubs.crm import create_stub_app, parse_fail

    try:
        failure = parse_fail(fail) if fail else None
    except ValueError as exc:
        raise ConfigError(f"--fail: {exc}") from None
    secret = os.environ.get(secret_env) or None
    if secret is None:
        err_console.print(f"{secret_env} is not set: the stub accepts unsigned pushes", highlight=False)
    uvicorn.run(create_stub_app(db, secret, fail=failure), host=host, port=port, log_level="info")
