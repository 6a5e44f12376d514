"""The /panel page and its static files over real HTTP: who gets the workspace, and how it is served."""

from __future__ import annotations

import re

import httpx

from bot.store import OperatorRole
from tests.helpers.server import AppFactory, serve
from tests.server.api_helpers import add_operator, logged_in


async def test_without_a_session_the_panel_redirects_to_the_login_form(make_app: AppFactory) -> None:
    async with serve(make_app()) as (base, _), httpx.AsyncClient(base_url=base) as client:
        answer = await client.get("/panel")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/panel/login?next=/panel"


async def test_an_operator_gets_the_workspace_with_their_name_and_csrf_token(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        await add_operator(app, "anna", name="Anna <b>Petrova</b>")
        async with logged_in(base, "anna") as client:
            page = await client.get("/panel")
            me = (await client.get("/api/me")).json()

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    html = page.text
    assert 'data-testid="operator-name">Anna &lt;b&gt;Petrova&lt;/b&gt;</span>' in html  # escaped, not markup
    assert f'<meta name="csrf-token" content="{me["csrf_token"]}">' in html
    assert '<script type="module" src="/panel/static/app.js"></script>' in html
    assert (
        re.search(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", html) is None
    )  # no inline script at all


async def test_an_editor_is_told_that_dialogues_need_the_operator_role(make_app: AppFactory) -> None:
    app = make_app()
    async with serve(app) as (base, _):
        await add_operator(app, "eva", OperatorRole.EDITOR, name="Eva")
        async with logged_in(base, "eva") as client:
            page = await client.get("/panel")

    assert page.status_code == 403
    assert "Dialogues are for operators" in page.text
    assert "app.js" not in page.text


async def test_the_panel_scripts_and_styles_are_served_revalidated(make_app: AppFactory) -> None:
    async with serve(make_app()) as (base, _), httpx.AsyncClient(base_url=base) as client:
        script = await client.get("/panel/static/app.js")
        module = await client.get("/panel/static/dialogue.js")
        style = await client.get("/panel/static/panel.css")
        missing = await client.get("/panel/static/nothing.js")

    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert script.headers["cache-control"] == "no-cache" and script.headers["etag"]
    assert "export class DialogueView" in module.text
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert missing.status_code == 404


def test_the_panel_scripts_never_put_data_into_markup() -> None:
    """Customer text reaches the page through textContent only: no HTML-parsing sink anywhere."""
    from bot.server.routes.panel import STATIC_DIR

    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function")
    scripts = sorted(STATIC_DIR.glob("*.js"))
    assert len(scripts) >= 5
    for script in scripts:
        assert not sinks.search(script.read_text(encoding="utf-8")), script.name
