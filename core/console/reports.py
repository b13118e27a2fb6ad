"""The figures of ``civic report`` in the console: by department, period and attendant.

Attendants see the figures of their own departments; admins see every department's.
Alongside the satisfaction report, the protocols opened in the period are counted by
status.
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
#: The figures of the tables, in order (others plugins register follow them).
COLUMNS = (
    "conversations",
    "median_first_response_seconds",
    "median_resolution_seconds",
    "rated",
    "mean_score",
    "nps",
    "csat_percent",
    "abandoned",
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
    from civic import protocols
    from civic.report import ReportScope, build_report

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
    report = build_report(engine.storage, scope, manager=engine.pm, now=console.now())
    names = [n for n in COLUMNS if n in report.labels]
    names += [
        n
        for n in report.labels
        if n not in names and n not in ("distribution", "contacts", "score_percent")
    ]
    if department is not None:
        chosen: list[str] | None = [department]
    else:
        chosen = None if visitor.account.is_admin else [d.slug for d in visible]
    by_status = []
    for status in protocols.STATUSES:
        found = len(
            protocols.list_protocols(
                engine,
                departments=chosen,
                status=status,
                since=since,
                until=until,
                limit=protocols.LIST_LIMIT,
            )
        )
        if found:
            shown = f"{found}+" if found >= protocols.LIST_LIMIT else str(found)
            by_status.append((status_label(status), shown, found))
    return {
        "report": report,
        "names": names,
        "labels": report.labels,
        "descriptions": report.descriptions,
        "departments": visible,
        "groupings": GROUPINGS,
        "by_status": [(label, shown) for label, shown, _ in by_status],
        "protocol_total": sum(n for _, _, n in by_status),
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
