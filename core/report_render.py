"""A :class:`~civic.report.Report` as a terminal table, JSON, CSV or a published HTML page.

The JSON shape is documented in ``schemas/report.schema.json``. The HTML page is one
self-contained file (inline CSS and SVG, no script, no external URL) in Portuguese, for
the city to publish as is.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from civic import storage as db
from civic.report import (
    BUILTIN_INDICATORS,
    Comment,
    Indicators,
    Report,
    Timeline,
    answer_text,
)

#: Colours of the charts (the browser test looks for the bar colours).
BAR_COLOUR = "#1565c0"
CONTACTS_COLOUR = "#2e7d32"
LINE_COLOURS = ("#c62828", "#6a1b9a", "#ef6c00", "#00838f", "#558b2f", "#4e342e", "#ad1457")
#: Built-in indicators whose value is a mapping (flattened in CSV, a table on the page).
_MAPPINGS = ("distribution", "protocols", "questions")
_SCALARS = tuple(name for name in BUILTIN_INDICATORS if name not in _MAPPINGS)
#: The protocol statuses as the published page names them.
STATUS_NAMES = {
    "received": "Recebidos",
    "in_progress": "Em análise",
    "answered": "Respondidos",
    "closed": "Encerrados",
}


# -- JSON -----------------------------------------------------------------------------


def report_to_dict(report: Report) -> dict[str, Any]:
    """The report as plain data, in the shape of ``schemas/report.schema.json``."""
    scope = report.scope
    return {
        "generated_at": report.generated_at.isoformat().replace("+00:00", "Z"),
        "scope": {
            "since": scope.since.isoformat() if scope.since else None,
            "until": scope.until.isoformat() if scope.until else None,
            "department": scope.department,
            "by": scope.by,
            "timezone": scope.timezone,
        },
        "indicators": {
            name: {"label": label, "description": report.descriptions.get(name, "")}
            for name, label in report.labels.items()
        },
        "total": report.total.as_dict(),
        "groups": [{"key": g.key, "indicators": g.indicators.as_dict()} for g in report.groups],
        "departments": {
            slug: {"name": info.name, "deadline_days": info.deadline_days}
            for slug, info in report.departments.items()
        },
        "questions": {
            question.key: {
                "title": question.title,
                "kind": question.kind,
                "options": dict(question.options),
            }
            for question in report.questions
        },
    }


def render_json(report: Report) -> str:
    """The report as indented JSON (UTF-8 text, accents kept)."""
    return json.dumps(report_to_dict(report), ensure_ascii=False, indent=2) + "\n"


# -- CSV ------------------------------------------------------------------------------


def _flat(indicators: Indicators) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(indicators, name) for name in _SCALARS}
    for score, n in (indicators.distribution or {}).items():
        row[f"score_{score}"] = n
    for status, n in (indicators.protocols or {}).items():
        row[f"protocols_{status}"] = n
    for key, figures in (indicators.questions or {}).items():
        row[f"question_{key}_answered"] = figures["answered"]
        row[f"question_{key}_mean"] = figures["mean"]
        row.update({f"question_{key}_{answer}": n for answer, n in figures["counts"].items()})
    for name, value in indicators.extra.items():
        if isinstance(value, Mapping):
            row.update({f"{name}_{key}": item for key, item in value.items()})
        else:
            row[name] = value
    return row


#: What a spreadsheet reads as the start of a formula (or, after a tab or carriage
#: return, may still): a text cell beginning with one is written after a ``'``.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """``value`` as a CSV cell a spreadsheet will not run: text starting like a formula
    (``=HYPERLINK(...)``, ``+55 ...``, ``@SUM``, ``-2+3``) gets a leading ``'``, which
    spreadsheets show as plain text (OWASP's advice against CSV injection). Numbers
    stay numbers (a NPS of ``-5`` is written ``-5``): only text is changed."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def render_csv(report: Report) -> str:
    """One row per group (one ``total`` row when the report is not grouped), with a header;
    text cells are :func:`spreadsheet_safe`.

    Columns: ``group``, the scalar indicators, ``score_<n>`` per score of the
    distribution, ``protocols_<status>`` per protocol status, per extra survey question
    ``question_<key>_answered``, ``question_<key>_mean`` and ``question_<key>_<answer>``
    (how often each answer was given), then other plugins' indicators (mappings
    flattened to ``name_key``).
    """
    rows = [{"group": g.key, **_flat(g.indicators)} for g in report.groups]
    if not report.scope.by:
        rows = [{"group": "total", **_flat(report.total)}]
    columns = ["group", *_SCALARS]
    for row in [{"group": "total", **_flat(report.total)}, *rows]:
        columns += [key for key in row if key not in columns]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: spreadsheet_safe(value) for key, value in row.items()} for row in rows)
    return out.getvalue()


# -- terminal -------------------------------------------------------------------------

_COLUMNS = (
    ("contacts", "contacts"),
    ("conversations", "convs"),
    ("rated", "rated"),
    ("response_rate_percent", "resp%"),
    ("mean_score", "mean"),
    ("score_percent", "score%"),
    ("nps", "NPS"),
    ("csat_percent", "CSAT%"),
    ("median_first_response_seconds", "1st resp"),
    ("median_resolution_seconds", "resolution"),
)


def duration(seconds: float | None) -> str:
    """``45s``, ``3m05s``, ``2h03m`` or ``3d04h``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _cell(name: str, value: Any) -> str:
    if value is None:
        return "-"
    if name.endswith("_seconds"):
        return duration(value)
    if isinstance(value, float):
        return f"{value:.2f}" if name == "mean_score" else f"{value:.1f}"
    return str(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    rows = list(rows)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w)
        for i, (h, w) in enumerate(zip(header, widths, strict=True))
    )
    out = [line, "  ".join("-" * w for w in widths)]
    for row in rows:
        out.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return out


def render_table(report: Report) -> str:
    """A readable plain-text table: one row per group and a total row, then the scores."""
    scope = report.scope
    period = f"{scope.since or 'start'} .. {scope.until or 'now'}"
    lines = [f"Satisfaction report, conversations opened {period} ({report.scope.timezone})"]
    if scope.department:
        lines.append(f"Department: {scope.department}")
    header = [scope.by or "", *(short for _, short in _COLUMNS)]

    def row(key: str, indicators: Indicators) -> list[str]:
        return [key, *(_cell(name, getattr(indicators, name)) for name, _ in _COLUMNS)]

    rows = [row(g.key, g.indicators) for g in report.groups]
    lines += ["", *_table(header, [*rows, row("total", report.total)])]
    distribution = report.total.distribution or {}
    if distribution:
        lines += ["", "Scores (total):"]
        biggest = max(distribution.values()) or 1
        for score, n in distribution.items():
            lines.append(f"  {score:>2}  {'#' * round(40 * n / biggest):<40}  {n}")
    lines += _questions_lines(report)
    protocols = report.total.protocols
    if protocols:
        counts = ", ".join(f"{status} {n}" for status, n in protocols.items())
        lines += ["", f"Protocols (total {sum(protocols.values())}): {counts}"]
    if report.total.deadline_due:
        lines.append(
            f"Answered within the deadline: {report.total.deadline_met} of "
            f"{report.total.deadline_due} ({_cell('pct', report.total.deadline_met_percent)}%)"
        )
    for name, value in report.total.extra.items():
        lines.append(f"{report.labels.get(name, name)}: {value}")
    return "\n".join(lines) + "\n"


def _questions_lines(report: Report) -> list[str]:
    """The extra survey questions' figures (total) for the terminal table."""
    figures = report.total.questions or {}
    lines = []
    for question in report.questions:
        found = figures.get(question.key)
        if found is None:
            continue
        mean = "" if found["mean"] is None else f", mean {found['mean']:.2f}"
        lines.append(f"  {question.key}: {question.title} ({found['answered']} answers{mean})")
        counts = ", ".join(
            f"{question.options.get(answer, answer)} {n}" for answer, n in found["counts"].items()
        )
        if counts:
            lines.append(f"    {counts}")
    return ["", "Survey questions (total):", *lines] if lines else []


# -- HTML -----------------------------------------------------------------------------


def _br(value: float | None, places: int = 1) -> str:
    """A number the Brazilian way: ``98,3``; ``—`` when unknown."""
    if value is None:
        return "—"
    text = f"{value:,.{places}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def _br_duration(seconds: float | None) -> str:
    """``45 s``, ``3 min 05 s``, ``2 h 03 min`` or ``3 d 04 h``; ``—`` when unknown."""
    if seconds is None:
        return "—"
    text = duration(seconds)
    for unit, word in (("d", " d "), ("h", " h "), ("m", " min "), ("s", " s")):
        text = text.replace(unit, word)
    return text.strip()


def _label(key: str, period: str | None) -> str:
    """``2021-03-16`` → ``16/03``; ``2021-03`` → ``03/2021``; other keys as they are."""
    parts = key.split("-")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return f"{parts[2]}/{parts[1]}" if period != "week" else f"sem. {parts[2]}/{parts[1]}"
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return f"{parts[1]}/{parts[0]}"
    return key


def bar_chart(values: Sequence[tuple[str, float]], colour: str, title: str) -> str:
    """An inline SVG bar chart of ``(label, value)`` pairs, value printed over each bar."""
    width, height, left, bottom, top = 720, 260, 40, 40, 20
    if not values:
        return f'<p class="empty">{html.escape(title)}: sem dados.</p>'
    biggest = max(v for _, v in values) or 1
    step = (width - left - 10) / len(values)
    bar = max(step * 0.7, 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{html.escape(title)}">',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" '
        'stroke="#555"/>',
    ]
    every = max(1, len(values) // 20)
    for i, (label, value) in enumerate(values):
        h = (height - top - bottom) * value / biggest
        x = left + i * step + (step - bar) / 2
        y = height - bottom - h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'fill="{colour}"><title>{html.escape(label)}: {_br(value, 0)}</title></rect>'
        )
        if len(values) <= 31:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
                f"{_br(value, 0)}</text>"
            )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                f"{html.escape(label)}</text>"
            )
    parts.append("</svg>")
    return "\n".join(parts)


def line_chart(
    series: Mapping[str, Mapping[str, float]], xs: Sequence[str], title: str, top_value: float
) -> str:
    """An inline SVG line chart: one coloured line per series over the labels ``xs``."""
    width, height, left, bottom, top = 720, 280, 40, 40, 20
    if not series or not xs:
        return f'<p class="empty">{html.escape(title)}: sem dados.</p>'
    step = (width - left - 20) / max(len(xs) - 1, 1)
    plot = height - top - bottom
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{html.escape(title)}">',
    ]
    for tick in range(0, int(top_value) + 1, max(1, int(top_value) // 5)):
        y = height - bottom - plot * tick / top_value
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 20}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    every = max(1, len(xs) // 12)
    for i, x_label in enumerate(xs):
        if i % every == 0:
            parts.append(
                f'<text x="{left + i * step:.1f}" y="{height - bottom + 16}" '
                f'text-anchor="middle">{html.escape(x_label)}</text>'
            )
    legend = []
    for n, (name, points) in enumerate(series.items()):
        colour = LINE_COLOURS[n % len(LINE_COLOURS)]
        coords = [
            (left + i * step, height - bottom - plot * points[x] / top_value)
            for i, x in enumerate(xs)
            if x in points
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(
            f'<polyline class="line" points="{path}" fill="none" stroke="{colour}" '
            'stroke-width="2.5"/>'
        )
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in coords]
        legend.append(
            f'<li><span class="key" style="background:{colour}"></span>{html.escape(name)}</li>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + f'\n<ul class="legend">{"".join(legend)}</ul>'


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:780px;padding:24px;color:#222;background:#fff}
h1{font-size:1.6em;margin-bottom:0}h2{font-size:1.15em;margin-top:2em}
.period{color:#555;margin-top:.3em}
.figures{display:flex;flex-wrap:wrap;gap:12px;margin:20px 0}
.figure{flex:1 1 150px;border:1px solid #ddd;border-radius:8px;padding:12px}
.figure b{display:block;font-size:1.8em}.figure span{color:#555;font-size:.9em}
.chart{width:100%;height:auto}.chart text{font-size:11px;fill:#333}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{border-bottom:1px solid #e5e5e5;padding:4px 6px;text-align:right}
th:first-child,td:first-child{text-align:left}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:14px;font-size:.9em}
.key{display:inline-block;width:12px;height:12px;margin-right:5px;border-radius:2px}
footer{color:#777;font-size:.8em;margin-top:2em}
.note{color:#555;font-size:.85em}
.comments{list-style:none;padding:0}
.comments li{border-left:3px solid #ddd;margin:0 0 12px;padding:2px 10px}
.comments q{display:block}.comments span{color:#666;font-size:.85em}
"""


def render_html(
    report: Report,
    city: str,
    timeline: Timeline,
    *,
    comments: Sequence[Comment] | None = None,
) -> str:
    """The published page: headline figures, three charts, a table per group, the
    answers to the city's extra survey questions (a chart and a table each), the
    protocols by status with the deadlines met, and the latest survey comments
    (``comments``, from :func:`civic.report.latest_comments`; no section when ``None``).

    Departments appear by the names citizens know (the registry's), never by slug. The
    page answers Lei 13.460/2017 art. 23: satisfaction, deadlines kept, number of
    manifestations, published in full.
    """
    total = report.total
    scope = report.scope
    if scope.since and scope.until:
        period = f"De {scope.since:%d/%m/%Y} a {scope.until:%d/%m/%Y}"
    elif scope.since:
        period = f"A partir de {scope.since:%d/%m/%Y}"
    elif scope.until:
        period = f"Até {scope.until:%d/%m/%Y}"
    else:
        period = "Todo o período"
    if scope.department:
        period += f" · {report.department_name(scope.department)}"
    figures = [
        (_br(total.score_percent), "Satisfação (% da nota máxima)"),
        (_br(total.mean_score, 2), "Nota média"),
        (_br(total.contacts, 0), "Cidadãos atendidos"),
        (_br(total.conversations, 0), "Atendimentos"),
        (_br(total.response_rate_percent) + " %", "Responderam à pesquisa"),
        (_br(total.nps), "NPS"),
        (_br(total.csat_percent) + " %", "Satisfeitos (CSAT)"),
        (_br_duration(total.median_first_response_seconds), "Mediana da 1ª resposta"),
    ]
    distribution = [(k, float(v)) for k, v in (total.distribution or {}).items()]
    contacts = [(_label(k, timeline.period), float(v)) for k, v in timeline.contacts.items()]
    xs = sorted({x for points in timeline.mean_by_department.values() for x in points})
    series = {
        report.department_name(dept): {_label(x, timeline.period): y for x, y in points.items()}
        for dept, points in timeline.mean_by_department.items()
    }
    unit = {"day": "dia", "week": "semana", "month": "mês"}[timeline.period]
    top = max((k[1] for k in _scales(total)), default=10)
    body = [
        f"<h1>{html.escape(city)}</h1>",
        f'<p class="period">Pesquisa de satisfação · {html.escape(period)}</p>',
        '<div class="figures">',
        *(f'<div class="figure"><b>{v}</b><span>{html.escape(t)}</span></div>' for v, t in figures),
        "</div>",
        "<h2>Distribuição das notas</h2>",
        bar_chart(distribution, BAR_COLOUR, "Distribuição das notas"),
        f"<h2>Cidadãos atendidos por {unit}</h2>",
        bar_chart(contacts, CONTACTS_COLOUR, f"Cidadãos atendidos por {unit}"),
        f"<h2>Nota média por departamento e por {unit}</h2>",
        line_chart(series, [_label(x, timeline.period) for x in xs], "Nota média", top),
        _groups_table(report),
        _questions_section(report),
        _protocols_section(report),
        _comments_section(report, comments),
        f"<footer>Gerado em {_local(report.generated_at, report.scope.timezone):%d/%m/%Y %H:%M}"
        f" ({report.scope.timezone}).</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="pt-BR">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(city)} · Pesquisa de satisfação</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def _scales(indicators: Indicators) -> list[tuple[int, int]]:
    keys = [int(k) for k in indicators.distribution or {}]
    return [(min(keys), max(keys))] if keys else []


_GROUP_NAMES = {
    "department": "Departamento",
    "day": "Dia",
    "week": "Semana",
    "month": "Mês",
    "agent": "Atendente",
}


def _groups_table(report: Report) -> str:
    if not report.groups or not report.scope.by:
        return ""
    header = [
        _GROUP_NAMES[report.scope.by],
        "Cidadãos",
        "Atendimentos",
        "Avaliações",
        "Nota média",
        "Satisfação (%)",
        "NPS",
    ]
    rows = [
        [
            html.escape(_group_label(report, g.key)),
            _br(g.indicators.contacts, 0),
            _br(g.indicators.conversations, 0),
            _br(g.indicators.rated, 0),
            _br(g.indicators.mean_score, 2),
            _br(g.indicators.score_percent),
            _br(g.indicators.nps),
        ]
        for g in report.groups
    ]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    title = f"<h2>Por {_GROUP_NAMES[report.scope.by].lower()}</h2>"
    return f"{title}\n<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _group_label(report: Report, key: str) -> str:
    """A group's key as the page shows it: a department's name, a date the Brazilian way."""
    if report.scope.by == "department":
        return report.department_name(key)
    return _label(key, report.scope.by)


def _questions_section(report: Report) -> str:
    """The extra survey questions: per question, how many answered, the mean, and a
    chart and table of how often each answer was given (free text: only how many)."""
    figures = report.total.questions or {}
    asked = [q for q in report.questions if q.key in figures]
    if not asked:
        return ""
    parts = ["<h2>Perguntas da pesquisa</h2>"]
    for question in asked:
        found = figures[question.key]
        answered = found["answered"]
        summary = f"{_br(answered, 0)} {'resposta' if answered == 1 else 'respostas'}"
        if found["mean"] is not None:
            summary += f" · média {_br(found['mean'], 2)}"
        parts += [f"<h3>{html.escape(question.title)}</h3>", f'<p class="note">{summary}</p>']
        counts = [(question.options.get(a, a), float(n)) for a, n in found["counts"].items()]
        if not counts:
            continue
        parts.append(bar_chart(counts, BAR_COLOUR, question.title))
        rows = "".join(
            f"<tr><td>{html.escape(label)}</td><td>{_br(n, 0)}</td>"
            f"<td>{_br(100 * n / answered if answered else None)}</td></tr>"
            for label, n in counts
        )
        parts.append(
            "<table><thead><tr><th>Resposta</th><th>Respostas</th><th>%</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    return "\n".join(parts)


def _protocols_section(report: Report) -> str:
    """Protocols by status and deadlines met, per group and in total (Lei 13.460/2017
    art. 23: the number of manifestations and compliance with deadlines)."""
    total = report.total
    if total.protocols is None:
        return ""  # the indicator's plugin is blocked
    title = "<h2>Protocolos e prazos de resposta</h2>"
    if not sum(total.protocols.values()):
        return f'{title}\n<p class="empty">Nenhum protocolo registrado no período.</p>'
    by_department = report.scope.by == "department"
    statuses = list(total.protocols)
    header = [
        _GROUP_NAMES[report.scope.by] if report.scope.by else "",
        *(STATUS_NAMES.get(status, status) for status in statuses),
        "Total",
        *(["Prazo (dias)"] if by_department else []),
        "Respondidos no prazo",
        "Prazo cumprido (%)",
    ]

    def row(label: str, figures: Indicators, deadline: str) -> list[str]:
        counts = figures.protocols or {}
        met = (
            f"{_br(figures.deadline_met, 0)} de {_br(figures.deadline_due, 0)}"
            if figures.deadline_due
            else "—"
        )
        return [
            html.escape(label),
            *(_br(counts.get(status, 0), 0) for status in statuses),
            _br(sum(counts.values()), 0),
            *([deadline] if by_department else []),
            met,
            _br(figures.deadline_met_percent),
        ]

    def deadline(key: str) -> str:
        info = report.departments.get(key)
        return _br(info.deadline_days, 0) if info else "—"

    rows = [row(_group_label(report, g.key), g.indicators, deadline(g.key)) for g in report.groups]
    rows.append(row("Total", total, ""))
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    declared = [
        f"{html.escape(info.name)}: {info.deadline_days} dias"
        for slug, info in report.departments.items()
        if info.deadline_days and report.scope.department in (None, slug)
    ]
    notes = [
        "Prazo contado em dias corridos a partir do dia seguinte ao registro do protocolo; "
        "o dia do vencimento conta como dentro do prazo. Vale a primeira resposta dada. "
        "Protocolos ainda dentro do prazo e sem resposta não entram na conta.",
    ]
    if declared:
        notes.append("Prazos declarados: " + "; ".join(declared) + ".")
    else:
        notes.append("Nenhum departamento declarou prazo de resposta.")
    notes.append("Publicado conforme a Lei 13.460/2017, art. 23.")
    note = "".join(f'<p class="note">{n}</p>' for n in notes)
    return f"{title}\n<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n{note}"


def _comments_section(report: Report, comments: Sequence[Comment] | None) -> str:
    """The latest survey comments, masked (see :func:`civic.report.latest_comments`)."""
    if comments is None:
        return ""
    title = "<h2>O que disseram os cidadãos</h2>"
    if not comments:
        return f'{title}\n<p class="empty">Nenhum comentário no período.</p>'
    items = []
    for comment in comments:
        when = _local(comment.at, report.scope.timezone)
        where = report.department_name(comment.department) if comment.department else ""
        about = f"{when:%d/%m/%Y}" + (f" · {html.escape(where)}" if where else "")
        items.append(f"<li><q>{html.escape(comment.text)}</q><span>{about}</span></li>")
    intro = (
        '<p class="note">Os comentários mais recentes da pesquisa de satisfação, como foram '
        "escritos; números de CPF e de telefone aparecem mascarados.</p>"
    )
    return f'{title}\n{intro}\n<ul class="comments">{"".join(items)}</ul>'


# -- export ---------------------------------------------------------------------------

#: The columns of ``civic export conversations``, in order.
EXPORT_COLUMNS = (
    "conversation_id",
    "protocols",
    "department",
    "channel",
    "agent",
    "opened_at",
    "closed_at",
    "first_response_seconds",
    "resolution_seconds",
    "score",
    "scale_min",
    "scale_max",
    "comment",
)


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"


def _seconds(start: dt.datetime, end: dt.datetime | None) -> float | None:
    return None if end is None else round((end - start).total_seconds(), 3)


def export_conversations(
    storage: db.Storage,
    out: TextIO,
    *,
    format: str = "csv",
    since: dt.date | None = None,
    until: dt.date | None = None,
    timezone: str = "UTC",
    questions: Sequence[str] = (),
) -> int:
    """Write one row per conversation opened between the dates to ``out``; return the count.

    ``format`` is ``csv`` (with a header row; protocols separated by spaces; text cells
    :func:`spreadsheet_safe`, so a comment ``=HYPERLINK(...)`` stays text) or ``jsonl``
    (one JSON object per line; ``protocols`` a list). Rows are streamed from the database
    in batches, so memory stays flat however many conversations there are. Times are ISO
    8601 in UTC (``2021-03-16T12:00:00Z``).

    The answers to the city's extra survey questions are, in CSV, one column
    ``answer_<key>`` per key of ``questions`` (``true``/``false`` for a yes-or-no); in
    JSON Lines, the field ``answers``: every answer stored, by question (``{}`` when the
    citizen answered none, ``null`` without a rating).
    """
    if format not in ("csv", "jsonl"):
        raise ValueError(f"unknown export format {format!r}; expected csv or jsonl")
    writer = csv.writer(out, lineterminator="\n") if format == "csv" else None
    if writer:
        writer.writerow([*EXPORT_COLUMNS, *(f"answer_{key}" for key in questions)])
    count = 0
    with storage.reading() as tx:
        for row in db.export_conversation_rows(
            tx, only=db.ReportFilter(since, until, timezone=timezone)
        ):
            record = {
                "conversation_id": row["conversation_id"],
                "protocols": row["protocols"],
                "department": row["department"],
                "channel": row["channel"],
                "agent": row["agent"],
                "opened_at": _iso(row["opened_at"]),
                "closed_at": _iso(row["closed_at"]),
                "first_response_seconds": _seconds(row["opened_at"], row["first_response_at"]),
                "resolution_seconds": _seconds(row["opened_at"], row["closed_at"]),
                "score": row["score"],
                "scale_min": row["scale_min"],
                "scale_max": row["scale_max"],
                "comment": row["comment"],
            }
            answers = _answers(row["answers"])
            if writer:
                cells = ["" if v is None else spreadsheet_safe(v) for v in record.values()]
                cells += [_cell_answer(answers.get(key)) for key in questions]
                writer.writerow(cells)
            else:
                record["answers"] = answers if row["answers"] is not None else None
                protocols = record["protocols"]
                record["protocols"] = sorted(protocols.split(" ")) if protocols else []
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def _cell_answer(value: Any) -> str:
    """An answer in a CSV cell: empty when not given, else :func:`answer_text` (made
    :func:`spreadsheet_safe` unless the answer is a number)."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return answer_text(value)
    return str(spreadsheet_safe(answer_text(value)))


def _answers(stored: str | None) -> dict[str, Any]:
    """The survey answers of a rating as stored (JSON), without the ``declined`` mark."""
    try:
        answers = json.loads(stored) if stored else {}
    except ValueError:
        return {}
    if not isinstance(answers, dict):
        return {}
    return {key: value for key, value in answers.items() if key != "declined"}


def _local(moment: dt.datetime, timezone: str) -> dt.datetime:
    """``moment`` in the city's time zone."""
    return moment.astimezone(zoneinfo.ZoneInfo(timezone))
