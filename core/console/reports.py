"""The figures of ``civic report`` in the console: by department, period and attendant.

Attendants see the figures of their own departments; admins see every department's. The
protocols of the period are counted by status, and those answered within their
department's deadline, as the published report counts them (Lei 13.460/2017 art. 23).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from civic.console.protocols import status_label
from civic.console.web import Console, Visitor, duration, parse_date
from civic.report import BUILTIN_INDICATORS, Indicators

#: How the figures can be split, as the console names it.
GROUPINGS = {
    "agent": "Atendente",
    "department": "Departamento",
    "day": "Dia",
    "week": "Semana",
    "month": "Mês",
}
#: The figures of the groups' table, in order (other plugins' figures follow them).
COLUMNS = (
    "conversations",
    "median_first_response_seconds",
    "median_resolution_seconds",
    "rated",
    "mean_score",
    "nps",
    "csat_percent",
    "deadline_met_percent",
)
#: The totals also show these.
TOTALS = (*COLUMNS, "abandoned", "deadline_due", "deadline_met")
#: Figures shown elsewhere on the page, or not at all.
LEFT_OUT = (
    "distribution",
    "questions",
    "contacts",
    "score_percent",
    "protocols",
    "response_rate_percent",
)
SECONDS = ("median_first_response_seconds", "median_resolution_seconds")
PERIOD = dt.timedelta(days=30)


def figure(name: str, value: Any) -> str:
    """One figure as the page shows it: durations in minutes, decimals with a comma."""
    if value is None:
        return "—"
    if name in SECONDS or name.endswith("_seconds"):
        return duration(value)
    if isinstance(value, bool):
        return "sim" if value else "não"
    if isinstance(value, float):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {figure('', v)}" for k, v in value.items()) or "—"
    return str(value)


def value_of(name: str, indicators: Indicators) -> Any:
    """The figure ``name`` of a report's group (a built-in field, or another plugin's)."""
    if name in BUILTIN_INDICATORS:
        return getattr(indicators, name)
    return indicators.extra.get(name)


def figure_of(value: Any, name: str) -> str:
    """:func:`figure` with the value first, as a template filter."""
    return figure(name, value)


def build(console: Console, visitor: Visitor, query: Mapping[str, str]) -> dict[str, Any]:
    """Blocking: the report the filters of ``query`` ask for."""
    from civic.report import ReportScope, build_report, latest_comments

    engine = console.engine
    visible = [d for d in engine.registry if visitor.can_see(d.slug)]
    problems = []
    today = console.today()
    until = parse_date(query.get("ate")) or today
    since = parse_date(query.get("de")) or until - PERIOD
    if query.get("de") and parse_date(query.get("de")) is None:
        problems.append("Data inicial inválida.")
    if query.get("ate") and parse_date(query.get("ate")) is None:
        problems.append("Data final inválida.")
    if since > until:
        problems.append("A data inicial é depois da final.")
        since, until = until - PERIOD, until
    department = query.get("departamento") or None
    if department is not None and department not in {d.slug for d in visible}:
        problems.append("Departamento desconhecido.")
        department = None
    if department is None and not visitor.account.is_admin and visible:
        department = visible[0].slug  # a report covers one department, or all of them
    by = query.get("por") or "agent"
    if by not in GROUPINGS:
        by = "agent"
    scope = ReportScope(since, until, department, by, timezone=console.host.config.hours.timezone)
    report = build_report(
        engine.storage, scope, manager=engine.pm, now=console.now(), config=console.host.config
    )
    extra = [n for n in report.labels if n not in TOTALS and n not in LEFT_OUT]
    columns = [n for n in COLUMNS if n in report.labels] + extra
    totals = [n for n in TOTALS if n in report.labels] + extra
    protocols = report.total.protocols or {}
    names = {d.slug: d.name for d in engine.registry}
    comments = [
        (c.at.astimezone(console.zone), names.get(c.department or "", c.department), c.text)
        for c in latest_comments(engine.storage, scope, limit=20)
    ]
    return {
        "comments": comments,
        "report": report,
        "columns": columns,
        "totals": totals,
        # Durations are shown as "3 min", so a label's "(s)" would mislead.
        "labels": {n: label.removesuffix(" (s)") for n, label in report.labels.items()},
        "descriptions": report.descriptions,
        "departments": visible,
        "groupings": GROUPINGS,
        "by_status": [(status_label(status), n) for status, n in protocols.items()],
        "protocol_total": sum(protocols.values()),
        "filters": {
            "de": since.isoformat(),
            "ate": until.isoformat(),
            "departamento": department or "",
            "por": by,
        },
        "error": " ".join(problems) or None,
        "all_allowed": visitor.account.is_admin,
    }


def routes(console: Console) -> list[Route]:
    """``/console/reports``."""

    async def index(request: Request, visitor: Visitor) -> Response:
        page = await console.host.call(build, console, visitor, request.query_params)
        return console.render("reports.html", {**page, "section": "reports"}, visitor=visitor)

    return [Route("/console/reports", console.page(index), methods=["GET"])]
