"""Customer text is never markup: no template marks anything safe, every page escapes what it echoes.

The panel and the widget put text into the page with ``textContent`` (checked in the
browser tests); this is the server's side: the Jinja2 environments autoescape, no
template or module opts out, and what a page or an e-mail echoes comes out escaped.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates
from starlette.testclient import TestClient

from bot.channels.webchat import channel as webchat
from bot.channels.webchat.transcripts import Line, render
from bot.server.routes import api_auth, panel
from tests.helpers.projects import REPO
from tests.helpers.server import AppFactory

ATTACK = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
# Ways a Jinja2 template or Python code turns escaping off.
OPT_OUTS = {
    "template": re.compile(r"\|\s*safe\b|{%-?\s*autoescape\s+(false|off)|\bMarkup\b", re.IGNORECASE),
    "python": re.compile(
        r"\bMarkup\(|autoescape\s*=\s*False|\|\s*safe\b|mark_safe|Markup\.escape", re.IGNORECASE
    ),
}
SOURCES = [REPO / "bot", REPO / "handoff"]


def files(suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(p for root in SOURCES for p in root.rglob("*") if p.suffix in suffixes and p.is_file())


def test_no_template_marks_anything_safe() -> None:
    templates = files((".html", ".j2", ".jinja", ".jinja2", ".xml", ".txt"))
    assert any(p.name == "workspace.html" for p in templates) and any(
        p.name == "login.html" for p in templates
    )
    offenders = [
        f"{p.relative_to(REPO)}:{n}: {line.strip()}"
        for p in templates
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if OPT_OUTS["template"].search(line)
    ]
    assert offenders == []


def test_no_python_module_builds_markup_or_turns_escaping_off() -> None:
    offenders = [
        f"{p.relative_to(REPO)}:{n}: {line.strip()}"
        for p in files((".py",))
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if OPT_OUTS["python"].search(line)
    ]
    assert offenders == []


def test_every_template_environment_autoescapes_html() -> None:
    environments = [module.templates for module in (api_auth, panel, webchat)]
    assert all(isinstance(t, Jinja2Templates) for t in environments)
    for templates in environments:
        env = templates.env
        assert env.autoescape is True or env.autoescape("page.html"), templates  # type: ignore[operator]
        rendered = env.from_string("<p>{{ text }}</p>").render(text=ATTACK)
        assert "<script>" not in rendered and "&lt;script&gt;" in rendered


def test_the_login_form_echoes_the_login_escaped(make_app: AppFactory) -> None:
    app: FastAPI = make_app()
    with TestClient(app) as client:
        answer = client.post(
            "/panel/login",
            data={"login": ATTACK[:64], "password": "wrong password", "next": f"/panel{ATTACK}"},
            follow_redirects=False,
        )
        page = client.get("/panel/login", params={"next": f"/panel{ATTACK}"})
    for response in (answer, page):
        assert "<script" not in response.text and "<img" not in response.text
        assert "&lt;script&gt;" in response.text and '"><' not in response.text
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp, "no script may run on the login page"
        assert "frame-ancestors 'none'" in csp


def test_the_transcript_email_escapes_what_was_said() -> None:
    at = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    lines = [Line(at, "customer", "Вы", ATTACK), Line(at, "operator", f"Анна {ATTACK}", "ок")]
    plain, body = render(lines, f"Магазин {ATTACK}", ZoneInfo("Europe/Moscow"))
    assert ATTACK in plain, "plain text stays as it was said"
    assert "<script>" not in body and "<img" not in body
    assert body.count("&lt;script&gt;") == 3
