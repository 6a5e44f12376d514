"""``botdesk operator add | list | disable | enable | passwd | grant | revoke``: panel accounts.

A password is never an argument (it would stay in the shell history): it is asked for
twice, read from an environment variable (``--password-env``), or generated and
printed once (``--generate``). The database is migrated first, so these work on a
fresh install before the server ever ran.

Disabling an account, a new password or a revoked role also tells the running servers,
when config.yml shares live events between processes (``events.backend`` redis or
postgres): they close that account's live feeds at once. With the in-process default a
server rechecks every open feed within seconds (and never forwards a customer's text to
a session that no longer exists).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from bot.cli import operator_app
from bot.cli.db_cmd import UrlOption, database_target
from bot.cli.options import JsonOption, ProjectOption
from bot.errors import BotdeskError, ConfigError
from bot.events import Event, EventBus, SharedEventBus, event_bus
from bot.project import Project
from bot.store import Database, OperatorRole, upgrade
from bot.store.models import utcnow
from bot.store.operators import list_operators
from bot.store.roles import roles_by_operator
from handoff.accounts import (
    AccountError,
    add_account,
    check_password,
    generate_password,
    grant,
    revoke,
    set_active,
    set_password,
)

console = Console(soft_wrap=True)
T = TypeVar("T")

LoginArgument = Annotated[
    str, typer.Argument(help="The login, e.g. anna (lowercase latin letters, digits, . _ -).")
]
PasswordEnvOption = Annotated[
    str | None,
    typer.Option(
        "--password-env", help="Read the password from this environment variable.", show_default=False
    ),
]
GenerateOption = Annotated[bool, typer.Option("--generate", help="Generate a password and print it once.")]


class _Collected(EventBus):
    """The events a command caused, kept to be told to the running servers afterwards."""

    def __init__(self) -> None:
        super().__init__()
        self.collected: list[Event] = []

    def publish(self, event: Event) -> None:
        self.collected.append(event)


async def _tell_servers(project_dir: Path, db: Database, events: list[Event]) -> None:
    """Hand account events to the servers' shared event bus, when config.yml has one."""
    try:
        config = Project.open(project_dir).config
    except BotdeskError:
        return  # no project here (only --url): no bus to know of
    postgres = db.url.render_as_string(hide_password=False) if db.dialect == "postgresql" else None
    try:
        bus = event_bus(config, postgres)  # the servers' own choice of bus
    except ConfigError:
        return
    if not isinstance(bus, SharedEventBus):
        return
    try:
        await bus.send_now(events)
    except bus.errors as exc:
        console.print(
            f"could not tell the running servers ({type(exc).__name__}); "
            "they recheck open feeds within seconds",
            style="yellow",
            highlight=False,
        )


def _changing_account(
    project_dir: Path, url: str | None, work: Callable[[Database, EventBus], Awaitable[T]]
) -> T:
    """Like ``_with_database``; what ``work`` announces reaches the running servers."""
    bus = _Collected()

    async def work_and_tell(db: Database) -> T:
        result = await work(db, bus)
        if bus.collected:
            await _tell_servers(project_dir, db, bus.collected)
        return result

    return _with_database(project_dir, url, work_and_tell)


def _with_database(project_dir: Path, url: str | None, work: Callable[[Database], Awaitable[T]]) -> T:
    target, base_dir = database_target(project_dir, url)

    async def run() -> T:
        async with Database.open(target, base_dir=base_dir) as db:
            await upgrade(db.engine)
            return await work(db)

    return asyncio.run(run())


def _password(password_env: str | None, generate: bool) -> tuple[str, bool]:
    """The new password and whether it was generated (then it is printed)."""
    if password_env and generate:
        raise AccountError("choose --password-env or --generate, not both")
    if generate:
        return generate_password(), True
    if password_env:
        value = os.environ.get(password_env)
        if not value:
            raise AccountError(f"the environment variable {password_env} is not set or empty")
        return check_password(value), False
    while True:
        value = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        try:
            return check_password(value), False
        except AccountError as exc:
            console.print(str(exc), style="red", highlight=False)


@operator_app.command("add")
def add(
    login: LoginArgument,
    role: Annotated[
        OperatorRole, typer.Option("--role", help="What the account may do.")
    ] = OperatorRole.OPERATOR,
    display_name: Annotated[
        str | None,
        typer.Option("--display-name", help="The name customers see, e.g. 'Анна'; default: the login."),
    ] = None,
    max_parallel: Annotated[
        int | None,
        typer.Option(
            "--max-parallel", min=1, max=100, help="Dialogues at once; default: operators.max_parallel."
        ),
    ] = None,
    password_env: PasswordEnvOption = None,
    generate: GenerateOption = False,
    project_dir: ProjectOption = Path("."),
    url: UrlOption = None,
) -> None:
    """Create a panel account (operator, editor or admin)."""
    password, generated = _password(password_env, generate)

    async def work(db: Database) -> None:
        await add_account(
            db, login, password, role=role, display_name=display_name, max_parallel=max_parallel
        )

    _with_database(project_dir, url, work)
    console.print(f"added {role.value} {login!r}", highlight=False)
    if generated:
        console.print(f"password: {password}  (shown only now)", highlight=False)


@operator_app.command("list")
def list_accounts(
    all_accounts: Annotated[bool, typer.Option("--all", help="Include disabled accounts.")] = False,
    as_json: JsonOption = False,
    project_dir: ProjectOption = Path("."),
    url: UrlOption = None,
) -> None:
    """The panel accounts, with role, status and limit."""

    async def work(db: Database) -> list[dict[str, object]]:
        async with db.reader() as session:
            listed = await list_operators(session, include_inactive=all_accounts)
            roles = await roles_by_operator(session, listed)
            return [
                {
                    "id": op.id,
                    "login": op.login,
                    "display_name": op.display_name,
                    "role": op.role.value,
                    "roles": sorted(role.value for role in roles[op.id]),
                    "status": op.status.value,
                    "active": op.active,
                    "max_parallel": op.max_parallel,
                }
                for op in listed
            ]

    rows = _with_database(project_dir, url, work)
    if as_json:
        console.print_json(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        console.print("no accounts yet: `botdesk operator add NAME --role admin`", highlight=False)
        return
    table = Table("id", "login", "name", "role", "status", "limit")
    for row in rows:
        status = str(row["status"]) if row["active"] else "disabled"
        limit = str(row["max_parallel"]) if row["max_parallel"] is not None else "default"
        granted = [r for r in row["roles"] if r != row["role"]]  # type: ignore[attr-defined]
        role = " + ".join([str(row["role"]), *granted])
        table.add_row(str(row["id"]), str(row["login"]), str(row["display_name"]), role, status, limit)
    console.print(table)


@operator_app.command("disable")
def disable(login: LoginArgument, project_dir: ProjectOption = Path("."), url: UrlOption = None) -> None:
    """Lock an account out at once (its sessions end); its history stays."""
    changed = _changing_account(project_dir, url, lambda db, bus: set_active(db, login, False, events=bus))
    console.print(f"disabled {login!r}" if changed else f"{login!r} was already disabled", highlight=False)


@operator_app.command("enable")
def enable(login: LoginArgument, project_dir: ProjectOption = Path("."), url: UrlOption = None) -> None:
    """Let a disabled account log in again."""
    changed = _with_database(project_dir, url, lambda db: set_active(db, login, True))
    console.print(f"enabled {login!r}" if changed else f"{login!r} was already enabled", highlight=False)


@operator_app.command("passwd")
def passwd(
    login: LoginArgument,
    password_env: PasswordEnvOption = None,
    generate: GenerateOption = False,
    project_dir: ProjectOption = Path("."),
    url: UrlOption = None,
) -> None:
    """Set a new password; the account's sessions end."""
    password, generated = _password(password_env, generate)
    _changing_account(project_dir, url, lambda db, bus: set_password(db, login, password, events=bus))
    console.print(f"new password set for {login!r}; their sessions have ended", highlight=False)
    if generated:
        console.print(f"password: {password}  (shown only now)", highlight=False)


RoleArgument = Annotated[OperatorRole, typer.Argument(help="operator, editor or admin.")]


@operator_app.command("grant")
def grant_role(
    login: LoginArgument, role: RoleArgument, project_dir: ProjectOption = Path("."), url: UrlOption = None
) -> None:
    """Give an account one more role (e.g. editor to an operator); its rights become the union."""
    roles = _with_database(project_dir, url, lambda db: grant(db, login, role, by=None, now=utcnow()))
    console.print(f"{login!r} now has: {', '.join(sorted(r.value for r in roles))}", highlight=False)


@operator_app.command("revoke")
def revoke_role(
    login: LoginArgument, role: RoleArgument, project_dir: ProjectOption = Path("."), url: UrlOption = None
) -> None:
    """Take a granted role back (the account's own role stays; disable the account instead)."""
    roles = _changing_account(project_dir, url, lambda db, bus: revoke(db, login, role, events=bus))
    console.print(f"{login!r} now has: {', '.join(sorted(r.value for r in roles))}", highlight=False)
