"""The KPI dashboard (``/panel/dashboard``) and its data (``GET /api/kpis``, JSON, CSV or Markdown).

Every logged-in role may look: the numbers are the team's, nothing here changes
anything. The page is rendered on the server, charts included (SVG from
``templates/panel/charts.html``); ``static/panel/dashboard.js`` only drives the period
picker. Customer text (top unrecognised messages) reaches the page through Jinja2's
autoescaping only.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from bot.i18n.catalog import Translator
from bot.i18n.formats import Formats
from bot.i18n.names import Names
from bot.kpis import Filters, PeriodError, kpi_report, period_for
from bot.kpis.charts import columns, rows
from bot.kpis.render import render
from bot.server.auth import CurrentOperator, PanelLogin
from bot.server.deps import ReadyStateDep
from bot.server.i18n import texts_for
from bot.server.lifespan import ServerState
from bot.server.routes.panel import PAGE_HEADERS, page, templates
from bot.store.views import filter_choices

router = APIRouter(tags=["KPIs"])
MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8", "md": "text/markdown; charset=utf-8"}

FromQuery = Annotated[str | None, Query(alias="from", description="First day, YYYY-MM-DD (KPI timezone)")]
ToQuery = Annotated[str | None, Query(description="Last day, included")]
Param = Annotated[str | None, Query(max_length=64)]


async def _report(
    state: ServerState, first: str | None, last: str | None, filters: Filters, t: Translator
) -> dict[str, Any]:
    now = state.conversations.clock()
    try:
        period = period_for(state.config, first or None, last or None, now)
    except PeriodError as exc:
        raise HTTPException(422, t.text(exc.args[0])) from None
    return await kpi_report(state.db, state.config, period, filters, now)


def _filters(channel: str | None, department: str | None, operator: str | None) -> Filters:
    return Filters(channel or None, department or None, operator or None)


@router.get("/api/kpis", summary="KPIs of a period (docs/kpis.md)")
async def kpis(
    operator_: CurrentOperator,
    state: ReadyStateDep,
    first: FromQuery = None,
    to: ToQuery = None,
    format: Literal["json", "csv", "md"] = "json",
    channel: Param = None,
    department: Param = None,
    operator: Param = None,
) -> Response:
    t = texts_for(operator_, state)
    report = await _report(state, first, to, _filters(channel, department, operator), t)
    headers = {"Cache-Control": "no-store"}
    if format != "json":
        period = report["period"]
        name = f"botdesk-kpis-{period['from']}-{period['to']}.{format}"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(render(report, format), media_type=MEDIA[format], headers=headers)


def _charts(report: dict[str, Any], names: Names) -> dict[str, Any]:
    t = names.t
    days = report["by_day"]
    every = max(1, len(days) // 10)
    return {
        "by_day": columns(
            t("Dialogues per day"), [(d["day"][5:], d["dialogues"]) for d in days], every=every
        ),
        "handoffs_by_day": columns(
            t("Handoffs per day"), [(d["day"][5:], d["handoffs"]) for d in days], every=every
        ),
        "by_hour": columns(
            t("Customer messages by hour"),
            [(f"{h:02d}", n) for h, n in enumerate(report["by_hour"])],
            every=3,
        ),
        "reasons": rows(
            t("Handoff reasons"), [(names.reason(k), n) for k, n in report["handoff_reasons"].items()]
        ),
        "top_intents": rows(
            t("Top intents"), [(names.intent(r["intent"]), r["count"]) for r in report["top_intents"]]
        ),
    }


def distinct_labels(accounts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``(login, label)`` for each account: the display name, with the login where two share one."""
    shared = Counter(name for _, name in accounts)
    return [(login, name if shared[name] == 1 else f"{name} ({login})") for login, name in accounts]


async def _choices(state: ServerState, names: Names) -> dict[str, list[tuple[str, str]]]:
    async with state.db.reader() as session:
        choices = await filter_choices(session)
    configured = {d.key: d.name for d in state.config.departments}
    return {
        "channel": sorted(((c, names.channel(c)) for c in choices.channels), key=lambda item: item[1]),
        "department": [(k, configured.get(k, n)) for k, n in choices.departments],
        "operator": distinct_labels(choices.accounts),
    }


@router.get("/panel/dashboard", response_class=HTMLResponse, include_in_schema=False)
async def dashboard(
    request: Request,
    login: PanelLogin,
    state: ReadyStateDep,
    first: FromQuery = None,
    to: ToQuery = None,
    channel: Param = None,
    department: Param = None,
    operator: Param = None,
) -> HTMLResponse:
    context = page(request, state, login)
    names: Names = context["names"]  # type: ignore[assignment]
    t = names.t
    filters = _filters(channel, department, operator)
    error = None
    try:
        report = await _report(state, first, to, filters, t)
    except HTTPException as exc:
        error = str(exc.detail)
        report = await _report(state, None, None, filters, t)
    query = {
        k: v
        for k, v in {"from": report["period"]["from"], "to": report["period"]["to"], **vars(filters)}.items()
        if v
    }
    choices = await _choices(state, names)
    sides = {"bot": t("bot alone"), "human": t("with a person")}
    return templates.TemplateResponse(
        request,
        "panel/dashboard.html",
        {
            **context,
            "report": report,
            "charts": _charts(report, names),
            "filters": vars(filters),
            "choices": choices,
            "operator_names": dict(choices["operator"]),
            "side_name": lambda side: sides.get(side, side),
            "department_name": lambda key: t("no department") if key == "-" else names.department(key),
            "formats": Formats(t),
            "query": query,
            "error": error,
        },
        status_code=200,
        headers=PAGE_HEADERS,
    )
