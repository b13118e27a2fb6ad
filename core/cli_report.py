"""``civic report`` and ``civic export conversations``: satisfaction figures and raw rows.

Wired into the main CLI by :func:`register`. The database and the report modules are
imported inside the commands (see :mod:`civic.cli`).
"""

from __future__ import annotations

import datetime as dt
import enum
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TextIO

import typer

from civic import departments
from civic.cli_common import ConfigOption, DatabaseUrl, fail, open_existing_storage
from civic.config import Config, ConfigError, load_config
from civic.plugins import load_plugins

DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")


class ReportFormat(enum.StrEnum):
    """The output formats of ``civic report``."""

    table = "table"
    json = "json"
    csv = "csv"
    html = "html"


class ExportFormat(enum.StrEnum):
    """The output formats of ``civic export conversations``."""

    csv = "csv"
    jsonl = "jsonl"


class Grouping(enum.StrEnum):
    """How ``civic report`` splits its figures."""

    department = "department"
    day = "day"
    week = "week"
    month = "month"
    agent = "agent"


Since = Annotated[
    str | None,
    typer.Option(help="First day, inclusive (YYYY-MM-DD or DD/MM/YYYY), in the city's time zone."),
]
Until = Annotated[str | None, typer.Option(help="Last day, inclusive (YYYY-MM-DD or DD/MM/YYYY).")]
Output = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file instead of standard output."),
]


def parse_date(value: str | None, option: str) -> dt.date | None:
    """A date typed as ``2021-03-16`` or ``16/03/2021``; ``None`` stays ``None``."""
    from civic.when import FILTER_YEARS, filter_date

    if value is None:
        return None
    day = filter_date(value, DATE_FORMATS)
    if day is None:
        fail(
            f"{option} {value!r} is not a date from {FILTER_YEARS.start} to "
            f"{FILTER_YEARS.stop - 1}: use YYYY-MM-DD or DD/MM/YYYY"
        )
    return day


@contextmanager
def output(path: Path | None) -> Iterator[TextIO]:
    """Standard output, or the file at ``path`` (UTF-8)."""
    if path is None:
        yield sys.stdout
        return
    try:
        with path.open("w", encoding="utf-8", newline="") as handle:
            yield handle
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")


def report(
    since: Since = None,
    until: Until = None,
    department: Annotated[
        str | None, typer.Option("--department", "-d", help="Only this department (its slug).")
    ] = None,
    by: Annotated[
        Grouping | None, typer.Option("--by", help="Split the figures into groups.")
    ] = None,
    format: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ReportFormat.table,
    output_path: Output = None,
    database_url: DatabaseUrl = None,
    city: Annotated[
        str | None, typer.Option(help="The title of the HTML page (default: the city's name).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Satisfaction figures: contacts, response rate, mean score, NPS, CSAT, durations,
    and the answers to the city's extra survey questions ([survey] questions in --config).

    Covers the conversations opened between --since and --until (inclusive days in the
    city's time zone, from --config; America/Sao_Paulo by default). The
    mean score is also given as a percentage of the scale's maximum (9.83 → 98.3).
    Protocols are counted by status, and those answered within their department's
    deadline ([departments.<slug>] deadline_days in --config) among those due
    (Lei 13.460/2017 art. 23). --format html writes one self-contained page, in
    Portuguese, for the city to publish, with the latest survey comments (masked).
    """
    from sqlalchemy.exc import OperationalError

    from civic import storage as db
    from civic.report import ReportScope, build_report, build_timeline, latest_comments
    from civic.report_render import render_csv, render_html, render_json, render_table

    start, end = parse_date(since, "--since"), parse_date(until, "--until")
    if start and end and start > end:
        fail(f"--since {start} is after --until {end}")
    settings = _config(config)
    manager = load_plugins()
    installed = departments.collect(manager)
    storage = open_existing_storage(database_url)
    try:
        with storage.reading() as tx:
            known = set(db.report_departments(tx)) | set(installed.slugs)
        if department is not None and department not in known:
            storage.close()
            fail(f"unknown department {department!r} (known: {', '.join(sorted(known))})")
        scope = ReportScope(
            start, end, department, by.value if by else None, timezone=settings.hours.timezone
        )
        result = build_report(storage, scope, manager=manager, config=settings, installed=installed)
        if format is ReportFormat.html:
            text = render_html(
                result,
                city or settings.city,
                build_timeline(storage, scope),
                comments=latest_comments(storage, scope),
            )
        else:
            renderers = {"table": render_table, "json": render_json, "csv": render_csv}
            text = renderers[format.value](result)
    except OperationalError as exc:
        fail(f"cannot read the database: {exc.orig}")
    except ConfigError as exc:  # a department's deadline_days that is not a number of days
        fail("invalid configuration:\n" + "\n".join(exc.problems))
    finally:
        storage.close()
    with output(output_path) as out:
        out.write(text)


def export_conversations_command(
    format: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="csv (with header) or JSON Lines.")
    ] = ExportFormat.csv,
    output_path: Output = None,
    since: Since = None,
    until: Until = None,
    database_url: DatabaseUrl = None,
    config: ConfigOption = None,
) -> None:
    """One row per conversation: protocols, department, times, durations, score, comment,
    and the answers to the city's extra survey questions ([survey] questions in --config).

    Rows are streamed from the database, so any number of conversations can be exported.
    Times are ISO 8601 in UTC. In CSV each question is a column answer_<key>; in JSON
    Lines the answers are the field "answers".
    """
    from sqlalchemy.exc import OperationalError

    from civic.report import survey_questions
    from civic.report_render import export_conversations

    start, end = parse_date(since, "--since"), parse_date(until, "--until")
    if start and end and start > end:
        fail(f"--since {start} is after --until {end}")
    settings = _config(config)
    questions = [q.key for q in survey_questions(settings.survey.questions)]
    storage = open_existing_storage(database_url)
    try:
        with output(output_path) as out:
            export_conversations(
                storage,
                out,
                format=format.value,
                since=start,
                until=end,
                timezone=settings.hours.timezone,
                questions=questions,
            )
    except OperationalError as exc:
        fail(f"cannot read the database: {exc.orig}")
    finally:
        storage.close()


def _config(path: Path | None) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        fail("invalid configuration:\n" + "\n".join(exc.problems))


def register(app: typer.Typer) -> None:
    """Add ``report`` and ``export conversations`` to the ``civic`` application."""
    app.command("report")(report)
    export = typer.Typer(
        rich_markup_mode=None, help="Export raw data for analysis elsewhere.", no_args_is_help=True
    )
    export.command("conversations")(export_conversations_command)
    app.add_typer(export, name="export")
