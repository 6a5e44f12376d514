"""``botdesk shell``: chat with the bot in the terminal, the real store underneath.

A customer terminal shows, dimmed, the NLU result, the escalation reason and the
handoff/lead events; ``--as-operator LOGIN`` in a second terminal takes the queue,
claims a dialogue and answers it (an account that does not exist is an error, unless
``--create-operator`` asks for a terminal-only one). Both read and write the project's database, so the
whole life of a dialogue — bot part, handoff, operator reply, back to the bot — shows.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from bot.cli import app
from bot.cli.options import ProjectOption
from bot.cli.train_cmd import train_project
from bot.conversation import ConversationService
from bot.dialogue.state import TurnResult
from bot.dialogue.validators import mask_phone
from bot.errors import ConfigError
from bot.messages import InboundMessage
from bot.nlu.base import Message
from bot.nlu.pipeline import is_fallback
from bot.project import Project
from bot.store import (
    Database,
    Sender,
    create_operator,
    get_ticket,
    operator_by_login,
    upgrade,
)
from bot.store.channel_history import customer_of_conversation, messages_after
from bot.store.operators import operator_by_id
from handoff.accounts import check_login, normalize_login
from handoff.service import HandoffError, OperatorService

console = Console(highlight=False, soft_wrap=True)
EXIT_WORDS = {"/exit", "/quit", "/stop"}
POLL_SECONDS = 1.0
OPERATOR_HELP = (
    "/queue — waiting dialogues · /claim N — take ticket N · /history — the customer's history · "
    "/suggest — suggested answers · /phrases — quick phrases (type a shortcut to send one) · "
    "/bot — back to the bot · /close \\[resolution] · /release · /exit; anything else is your reply"
)


def _events(result: TurnResult) -> list[str]:
    events = []
    if result.escalation is not None:
        e = result.escalation
        where = "after hours: call-back offered" if result.after_hours else "queued for an operator"
        events.append(f"handoff ({where}): {e.reason} — {e.detail}, priority {e.priority}")
    if result.lead is not None:
        lead = result.lead
        events.append(f"lead card ({lead.kind}): {lead.name}, {mask_phone(lead.phone or '')}, consent given")
    if result.forget_form_answers:
        events.append("form ended without consent: its answers are not kept")
    return events


def _describe(message: Message) -> str:
    data = message.to_parse_dict()
    parts = [f"{data['intent']['name']} {data['intent']['confidence']:.2f}"]
    if message.fallback_reason:
        parts.append(f"fallback: {message.fallback_reason}")
    if message.ranking and is_fallback(message):
        parts.append(f"best guess: {message.ranking[0].name} {message.ranking[0].confidence:.2f}")
    parts += [f"{e.entity}={e.value}" for e in message.entities]
    return " · ".join(parts)


async def _read_line(prompt: str) -> str | None:
    """A line from the terminal (or a pipe) without blocking the event loop."""
    if sys.stdin.isatty():
        try:
            return await asyncio.to_thread(console.input, prompt)
        except (EOFError, KeyboardInterrupt):
            return None
    line = await asyncio.to_thread(sys.stdin.readline)
    return None if line == "" else line


async def _new_messages(
    db: Database, conversation_id: int, after: int, senders: tuple[Sender, ...]
) -> list[Any]:
    async with db.reader() as session:
        return await messages_after(session, conversation_id, after, senders)


async def _customer(project: Project, db: Database, customer_id: str) -> None:
    info, trained = train_project(project)
    if trained:
        console.print(f"[dim]trained model {info.version}[/]")
    pipeline = project.models.load(project.config, info)
    service = ConversationService(project.config, db.turns, lambda: pipeline, project.engine())
    console.print(
        f"[dim]botdesk shell: model {info.version}, you are '{customer_id}'. /exit or Ctrl-D to leave.[/]"
    )
    seen = 0
    conversation_id: int | None = None
    stop = asyncio.Event()
    printing = asyncio.Lock()

    async def drain() -> None:
        """Show what operators (and handoff events) said since we last looked."""
        nonlocal seen
        if conversation_id is None:
            return
        async with printing:  # the poller and the input loop both drain
            for row in await _new_messages(db, conversation_id, seen, (Sender.OPERATOR, Sender.SYSTEM)):
                seen = max(seen, row.id)
                if row.sender == Sender.OPERATOR:
                    name = await _operator_name(db, row.operator_id)
                else:
                    name = project.config.bot.label
                console.print(f"[bold cyan]{escape(name)}: {escape(row.text)}[/]")

    async def show_operator_messages() -> None:
        while not stop.is_set():
            await drain()
            await asyncio.sleep(POLL_SECONDS)

    poller = asyncio.create_task(show_operator_messages())
    try:
        while True:
            line = await _read_line("[bold]you> [/]")
            if line is None or line.strip() in EXIT_WORDS:
                break
            if not line.strip():
                continue
            handled = await service.handle(InboundMessage("shell", customer_id, line.strip()))
            conversation_id = handled.conversation_id
            await drain()
            if handled.result is None and handled.silent:
                console.print("[dim]  (an operator has this dialogue: the bot stays silent)[/]")
            if handled.result is not None:
                parsed = pipeline.parse(line.strip())
                console.print(f"[dim]  nlu: {escape(_describe(parsed))}[/]")
                for event in _events(handled.result):
                    console.print(f"[dim]  {escape(event)}[/]")
            for reply in handled.replies:
                seen = max(seen, reply.message_id or 0)
                console.print(f"[bold green]{escape(reply.labelled())}[/]")
                for number, button in enumerate(reply.buttons, start=1):
                    console.print(f"   [cyan]{number}.[/] {escape(str(button.get('title', '')))}")
    finally:
        stop.set()
        await poller
    console.print("[dim]bye[/]")


async def _operator_name(db: Database, operator_id: int | None) -> str:
    if operator_id is None:
        return "operator"
    async with db.reader() as session:
        operator = await operator_by_id(session, operator_id)
        return operator.display_name if operator else "operator"


async def _operator(project: Project, db: Database, login: str, name: str | None, create: bool) -> None:
    login = normalize_login(login)
    async with db.session() as session:
        operator = await operator_by_login(session, login)
        if operator is None:
            if not create:
                raise ConfigError(
                    f"there is no operator account {login!r}; create one with "
                    f"`botdesk operator add {login}` (it can log in to the panel too), or run "
                    "`botdesk shell --as-operator LOGIN --create-operator` for a terminal-only account "
                    "without a password"
                )
            check_login(login)
            operator = await create_operator(session, login, name or login.capitalize())
            await session.commit()
            console.print(
                f"[dim]created the operator account {escape(login)} (no password: terminal only)[/]"
            )
        if not operator.active:
            raise ConfigError(
                f"the operator account {login!r} is disabled; `botdesk operator enable {login}`"
            )
        operator_id, display = operator.id, operator.display_name
    service = OperatorService(project.config, db, project.engine())
    console.print(f"[dim]botdesk shell as operator {display}. {OPERATOR_HELP}[/]")
    ticket: int | None = None
    conversation: int | None = None
    seen = 0
    stop = asyncio.Event()

    async def show_customer_messages() -> None:
        nonlocal seen
        while not stop.is_set():
            if conversation is not None:
                for row in await _new_messages(db, conversation, seen, (Sender.CUSTOMER,)):
                    seen = max(seen, row.id)
                    console.print(f"[bold]customer: {escape(row.text)}[/]")
            await asyncio.sleep(POLL_SECONDS)

    poller = asyncio.create_task(show_customer_messages())
    try:
        while True:
            line = await _read_line(f"[bold]{escape(display)}> [/]")
            if line is None or line.strip() in EXIT_WORDS:
                break
            command, _, rest = line.strip().partition(" ")
            try:
                if command == "/queue":
                    for entry in await service.queue():
                        waiting = f"{entry.waiting_seconds / 60:.0f} min"
                        last = escape(entry.last_customer_message or "")
                        label = f"{entry.reason}, priority {entry.priority}, {waiting}"
                        console.print(f"  #{entry.ticket_id} \\[{label}] {last}")
                elif command == "/claim" and rest.strip().isdigit():
                    if await service.claim(int(rest), operator_id):
                        ticket = int(rest)
                        conversation = await _conversation_of(db, ticket)
                        seen = 0
                        console.print(f"[green]ticket #{ticket} is yours[/]")
                    else:
                        console.print("[yellow]someone else has it already[/]")
                elif command == "/history" and conversation is not None:
                    for item in await service.history(await _customer_of(db, conversation)):
                        m = item.message
                        console.print(f"  [dim]{item.channel} {m.sender.value}:[/] {escape(m.text)}")
                elif command == "/phrases":
                    for shortcut, phrase in (await service.quick_phrases(display)).items():
                        console.print(f"  {escape(shortcut)}  {escape(phrase)}")
                elif command == "/suggest" and ticket is not None:
                    for number, (intent, answer) in enumerate(await service.suggestions(ticket), start=1):
                        console.print(f"  {number}. \\[{intent}] {escape(answer)}")
                elif command in ("/bot", "/close", "/release") and ticket is not None:
                    if command == "/bot":
                        await service.return_to_bot(ticket, operator_id)
                    elif command == "/close":
                        await service.close(ticket, operator_id, rest.strip() or "solved")
                    else:
                        await service.release(ticket, operator_id)
                    console.print(f"[dim]ticket #{ticket}: {command[1:]}[/]")
                    ticket = conversation = None
                elif command.startswith("/") and line.strip() not in await service.quick_phrases(display):
                    console.print(f"[dim]{OPERATOR_HELP}[/]")
                elif ticket is None:
                    console.print("[yellow]claim a ticket first (/queue, /claim N)[/]")
                else:
                    await service.reply(ticket, operator_id, await service.expand(line, display))
            except HandoffError as exc:
                console.print(f"[yellow]{escape(str(exc))}[/]")
    finally:
        stop.set()
        await poller


async def _conversation_of(db: Database, ticket_id: int) -> int:
    async with db.reader() as session:
        ticket = await get_ticket(session, ticket_id)
    if ticket is None:
        raise ConfigError(f"there is no ticket {ticket_id}")
    return ticket.conversation_id


async def _customer_of(db: Database, conversation_id: int) -> int:
    async with db.reader() as session:
        return await customer_of_conversation(session, conversation_id)


@app.command()
def shell(
    project_dir: ProjectOption = Path("."),
    as_operator: Annotated[
        str | None, typer.Option("--as-operator", help="Work the queue as this operator login.")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="The operator's display name (with --create-operator).")
    ] = None,
    create_operator_account: Annotated[
        bool,
        typer.Option(
            "--create-operator",
            help="Create the --as-operator account if it does not exist (terminal only, no password).",
        ),
    ] = False,
    customer: Annotated[
        str | None, typer.Option(help="Who you are as a customer (default: your user name).")
    ] = None,
) -> None:
    """Chat with the bot in the terminal; a second terminal can answer as an operator."""
    project = Project.open(project_dir)

    async def run() -> None:
        db = project.database()
        try:
            await upgrade(db.engine)
            if as_operator:
                await _operator(project, db, as_operator, name, create_operator_account)
            else:
                await _customer(project, db, customer or f"shell-{getpass.getuser()}")
        finally:
            await db.close()

    asyncio.run(run())
