"""The KPI dashboard (``/panel/dashboard``) and its data (``GET /api/kpis``, JSON, CSV or Markdown).

Every logged-in role may look: the numbers are the team's, nothing here changes
anything. The page is rendered on the server, charts included (SVG from
``templates/panel/charts.html``); ``static/panel/dashboard.js`` only drives the period
picker. Customer text (top unrecognised messages) reaches the page through Jinja2's
autoescaping only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from bot.kpis import Filters, PeriodError, kpi_report, period_for
from bot.kpis.charts import columns, rows
from bot.kpis.render import render
from bot.server.auth import CurrentOperator, PanelLogin, role_label
from bot.server.deps import ReadyStateDep
from bot.server.lifespan import ServerState
from bot.server.routes.panel import PAGE_HEADERS, templates
from bot.store import Conversation, Operator
from bot.store.models import Department

router = APIRouter(tags=["KPIs"])
MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8", "md": "text/markdown; charset=utf-8"}

FromQuery = Annotated[str | None, Query(alias="from", description="First day, YYYY-MM-DD (KPI timezone)")]
ToQuery = Annotated[str | None, Query(description="Last day, included")]
Param = Annotated[str | None, Query(max_length=64)]


async def _report(
    state: ServerState, first: str | None, last: str | None, filters: Filters
) -> dict[str, Any]:
    now = state.conversations.clock()
    try:
        period = period_for(state.config, first or None, last or None, now)
    except PeriodError as exc:
        raise HTTPException(422, str(exc)) from None
    return await kpi_report(state.db, state.config, period, filters, now)


def _filters(channel: str | None, department: str | None, operator: str | None) -> Filters:
    return Filters(channel or None, department or None, operator or None)


@router.get("/api/kpis", summary="KPIs of a period (docs/kpis.md)")
async def kpis(
    _: CurrentOperator,
    state: ReadyStateDep,
    first: FromQuery = None,
    to: ToQuery = None,
    format: Literal["json", "csv", "md"] = "json",
    channel: Param = None,
    department: Param = None,
    operator: Param = None,
) -> Response:
    report = await _report(state, first, to, _filters(channel, department, operator))
    headers = {"Cache-Control": "no-store"}
    if format != "json":
        period = report["period"]
        name = f"botdesk-kpis-{period['from']}-{period['to']}.{format}"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(render(report, format), media_type=MEDIA[format], headers=headers)


def _charts(report: dict[str, Any]) -> dict[str, Any]:
    days = report["by_day"]
    reasons = list(report["handoff_reasons"].items())
    return {
        "by_day": columns(
            "Dialogues per day", [(d["day"][5:], d["dialogues"]) for d in days], every=max(1, len(days) // 10)
        ),
        "handoffs_by_day": columns(
            "Handoffs per day", [(d["day"][5:], d["handoffs"]) for d in days], every=max(1, len(days) // 10)
        ),
        "by_hour": columns(
            "Customer messages by hour", [(f"{h:02d}", n) for h, n in enumerate(report["by_hour"])], every=3
        ),
        "reasons": rows("Handoff reasons", reasons),
        "top_intents": rows("Top intents", [(r["intent"], r["count"]) for r in report["top_intents"]]),
    }


async def _choices(state: ServerState) -> dict[str, list[tuple[str, str]]]:
    async with state.db.reader() as session:
        departments = list((await session.execute(select(Department.key, Department.name))).all())
        channels = list((await session.scalars(select(Conversation.channel).distinct())).all())
        operators = list(
            (
                await session.execute(
                    select(Operator.login, Operator.display_name).order_by(Operator.display_name)
                )
            ).all()
        )
    return {
        "channel": [(c, c) for c in sorted(channels)],
        "department": [(k, n) for k, n in departments],
        "operator": [(k, n) for k, n in operators],
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
    filters = _filters(channel, department, operator)
    error = None
    try:
        report = await _report(state, first, to, filters)
    except HTTPException as exc:
        error = str(exc.detail)
        report = await _report(state, None, None, filters)
    query = {
        k: v
        for k, v in {"from": report["period"]["from"], "to": report["period"]["to"], **vars(filters)}.items()
        if v
    }
    return templates.TemplateResponse(
        request,
        "panel/dashboard.html",
        {
            "operator": {"display_name": login.operator.display_name, "role": role_label(login)},
            "csrf_token": login.csrf_token,
            "report": report,
            "charts": _charts(report),
            "filters": vars(filters),
            "choices": await _choices(state),
            "query": query,
            "error": error,
        },
        status_code=200,
        headers=PAGE_HEADERS,
    )
