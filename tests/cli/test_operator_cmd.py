"""``botdesk operator``: accounts made from the command line log in to the panel's store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app, main
from bot.store import Database, operator_by_login
from handoff.accounts import verify_password


def account(url: str, login: str) -> tuple[str | None, bool, str, str, int | None]:
    async def read() -> tuple[str | None, bool, str, str, int | None]:
        async with Database.open(url) as db, db.reader() as session:
            operator = await operator_by_login(session, login)
            assert operator is not None
            return (
                operator.password_hash,
                operator.active,
                operator.role.value,
                operator.display_name,
                operator.max_parallel,
            )

    return asyncio.run(read())


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ops.db'}"


def test_add_with_the_password_from_the_environment(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANNA_PASSWORD", "very secret words")
    options = [
        "--role",
        "editor",
        "--display-name",
        "Анна",
        "--max-parallel",
        "3",
        "--password-env",
        "ANNA_PASSWORD",
    ]
    code = main(["operator", "add", "anna", *options, "--url", url])
    assert code == 0
    out = capsys.readouterr().out
    assert "added editor 'anna'" in out and "very secret words" not in out
    hashed, active, role, name, limit = account(url, "anna")
    assert verify_password(hashed, "very secret words") and not verify_password(hashed, "wrong")
    assert (active, role, name, limit) == (True, "editor", "Анна", 3)


def test_add_asks_twice_for_the_password(url: str) -> None:
    result = CliRunner().invoke(
        app, ["operator", "add", "boris", "--url", url], input="short\nshort\nlong enough 1\nlong enough 1\n"
    )
    assert result.exit_code == 0, result.output
    assert "too short" in result.output
    assert verify_password(account(url, "boris")[0], "long enough 1")


def test_generate_prints_the_password_once(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["operator", "add", "vera", "--generate", "--url", url]) == 0
    out = capsys.readouterr().out
    password = out.split("password: ")[1].split()[0]
    assert verify_password(account(url, "vera")[0], password)
    assert main(["operator", "list", "--url", url]) == 0
    assert password not in capsys.readouterr().out


def test_errors_are_one_sentence(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("P", "long enough 2")
    assert main(["operator", "add", "anna", "--password-env", "P", "--url", url]) == 0
    assert main(["operator", "add", "anna", "--password-env", "P", "--url", url]) == 2
    assert "the login 'anna' is taken" in capsys.readouterr().err
    assert main(["operator", "add", "Bad Name", "--password-env", "P", "--url", url]) == 2
    assert "is not a usable login" in capsys.readouterr().err
    assert main(["operator", "add", "x", "--password-env", "UNSET_VARIABLE_X", "--url", url]) == 2
    assert "UNSET_VARIABLE_X is not set" in capsys.readouterr().err
    assert main(["operator", "disable", "nobody", "--url", url]) == 2
    assert "no operator with the login 'nobody'" in capsys.readouterr().err


def test_list_disable_enable_and_passwd(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("P", "long enough 3")
    monkeypatch.setenv("NEW", "another password")
    main(["operator", "add", "anna", "--password-env", "P", "--url", url])
    main(["operator", "add", "boris", "--role", "admin", "--password-env", "P", "--url", url])
    assert main(["operator", "disable", "anna", "--url", url]) == 0
    assert account(url, "anna")[1] is False
    capsys.readouterr()
    assert main(["operator", "list", "--json", "--url", url]) == 0
    assert [row["login"] for row in json.loads(capsys.readouterr().out)] == ["boris"]
    assert main(["operator", "list", "--all", "--json", "--url", url]) == 0
    listed = {row["login"]: row for row in json.loads(capsys.readouterr().out)}
    assert listed["anna"]["active"] is False and listed["boris"]["role"] == "admin"
    assert main(["operator", "enable", "anna", "--url", url]) == 0
    assert account(url, "anna")[1] is True
    assert main(["operator", "passwd", "anna", "--password-env", "NEW", "--url", url]) == 0
    hashed = account(url, "anna")[0]
    assert verify_password(hashed, "another password") and not verify_password(hashed, "long enough 3")


def test_grant_and_revoke_a_role(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["operator", "add", "anna", "--generate", "--url", url]) == 0
    assert main(["operator", "grant", "anna", "editor", "--url", url]) == 0
    assert "'anna' now has: editor, operator" in capsys.readouterr().out
    assert main(["operator", "list", "--url", url]) == 0
    assert "operator + editor" in capsys.readouterr().out
    assert main(["operator", "revoke", "anna", "operator", "--url", url]) != 0, "the own role is not a grant"
    assert "own role" in capsys.readouterr().err
    assert main(["operator", "revoke", "anna", "editor", "--url", url]) == 0
    assert "'anna' now has: operator" in capsys.readouterr().out
