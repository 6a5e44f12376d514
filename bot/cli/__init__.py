"""The ``botdesk`` command line. Expected problems print one sentence and exit 2."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import click
import typer
from rich.console import Console

from bot import __version__
from bot.errors import BotdeskError

app = typer.Typer(
    name="botdesk",
    help="botdesk: FAQ bot with human handoff. Train, evaluate and chat with your bot.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
nlu_app = typer.Typer(help="Parse messages and evaluate the NLU.", no_args_is_help=True)
data_app = typer.Typer(help="Check the training data.", no_args_is_help=True)
export_app = typer.Typer(help="Export the project to other tools.", no_args_is_help=True)
db_app = typer.Typer(help="Create and migrate the conversation database.", no_args_is_help=True)
app.add_typer(nlu_app, name="nlu")
app.add_typer(data_app, name="data")
app.add_typer(export_app, name="export")
app.add_typer(db_app, name="db")
outbox_app = typer.Typer(help="Watch and deliver the CRM outbox (lead cards).", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
operator_app = typer.Typer(help="Operator panel accounts: add, list, disable, passwd.", no_args_is_help=True)
app.add_typer(operator_app, name="operator")
customer_app = typer.Typer(help="Personal data: forget a customer, purge old chats.", no_args_is_help=True)
app.add_typer(customer_app, name="customer")

err_console = Console(stderr=True, soft_wrap=True)


def _print_version(asked: bool) -> None:
    if asked:
        Console(highlight=False).print(f"botdesk {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print botdesk's version and exit."
        ),
    ] = False,
) -> None:
    pass


# Commands register themselves on the apps above.
from bot.cli import (  # noqa: E402,F401
    crm_cmd,
    customer_cmd,
    data_cmd,
    db_cmd,
    export_cmd,
    import_cmd,
    inbox_cmd,
    init_cmd,
    nlu_cmd,
    operator_cmd,
    outbox_cmd,
    report_cmd,
    run_cmd,
    shell_cmd,
    shop_cmd,
    test_cmd,
    train_cmd,
)

app.add_typer(import_cmd.import_app, name="import")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``botdesk`` script; returns the exit code (tests call it too)."""
    try:
        result = app(args=argv, standalone_mode=False)
    except (click.exceptions.Abort, typer.Abort):
        err_console.print("aborted")
        return 1
    except BotdeskError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if _is_usage_error(exc):  # click's, or the copy of click that typer ships
            exc.show()  # type: ignore[attr-defined]
            return int(exc.exit_code)  # type: ignore[attr-defined]
        logging.getLogger("botdesk").exception("unexpected error, please report it")
        return 1
    return result if isinstance(result, int) else 0


def _is_usage_error(exc: Exception) -> bool:
    return any(cls.__name__ == "ClickException" for cls in type(exc).__mro__) and hasattr(exc, "show")


def run() -> None:
    sys.exit(main())
