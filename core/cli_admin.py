"""Operator commands: ``civic config``, ``civic forms`` and ``civic protocols``.

The database is imported inside the commands that open it (see :mod:`civic.cli`).
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from civic.cli_common import ConfigOption, DatabaseUrl, fail, open_existing_storage
from civic.config import ConfigError, config_path, load_config, settings_problems
from civic.plugins import load_plugins

config_app = typer.Typer(
    rich_markup_mode=None, help="Check the city's configuration (civic.toml).", no_args_is_help=True
)
forms_app = typer.Typer(
    rich_markup_mode=None, help="List, show and validate department forms.", no_args_is_help=True
)
protocols_app = typer.Typer(
    rich_markup_mode=None, help="Look up and update protocol numbers.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the operator command groups to the main application."""
    app.add_typer(config_app, name="config")
    app.add_typer(forms_app, name="forms")
    app.add_typer(protocols_app, name="protocols")


# -- civic config -------------------------------------------------------------------


@config_app.command("check")
def config_check(
    path: Annotated[
        Path | None, typer.Argument(help="The file to check (default: --config / CIVIC_CONFIG).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Validate a civic.toml: every problem with its file, key and reason."""
    target = path or config_path(config)
    if target is None:
        fail("no configuration file given: pass a path, --config or CIVIC_CONFIG", code=2)
    try:
        loaded = load_config(target)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.secho(problem, err=True, fg=typer.colors.RED)
        raise typer.Exit(code=1) from None
    from civic import departments
    from civic.texts import catalogue_packages, override_problems

    manager = load_plugins()
    registry = departments.collect(manager, loaded.departments)
    wrong_texts = override_problems(
        loaded.texts,
        loaded.locale,
        catalogue_packages(manager),
        departments.department_texts(departments.collect(manager)),
    )
    for problem in wrong_texts:
        typer.secho(f"{target}: texts.{problem}", err=True, fg=typer.colors.RED)
    wrong_settings = settings_problems(loaded, {d.slug: d.settings_schema for d in registry})
    for problem in wrong_settings:
        typer.secho(problem, err=True, fg=typer.colors.RED)
    unknown = departments.enabled_problems(loaded.departments, registry, str(target))
    for problem in unknown:
        typer.secho(problem, err=True, fg=typer.colors.RED)
    wrong_numbers = {
        number: slug
        for number, slug in loaded.whatsapp_numbers.items()
        if registry.get(slug) is None
    }
    for number, slug in wrong_numbers.items():
        typer.secho(
            f"{target}: whatsapp.numbers.{number}: department {slug!r} is not enabled "
            f"(enabled: {', '.join(registry.slugs) or 'none'})",
            err=True,
            fg=typer.colors.RED,
        )
    # A retention override for a department that is not enabled is a typo that would
    # silently keep data for the city's period instead (LGPD art. 16).
    wrong_retention = sorted(set(loaded.retention.departments) - set(registry.slugs))
    for slug in wrong_retention:
        typer.secho(
            f"{target}: departments.{slug}.retention: department {slug!r} is not enabled "
            f"(enabled: {', '.join(registry.slugs) or 'none'})",
            err=True,
            fg=typer.colors.RED,
        )
    if unknown or wrong_numbers or wrong_texts or wrong_settings or wrong_retention:
        raise typer.Exit(code=1)
    enabled = ", ".join(registry.slugs) or "none"
    typer.echo(f"{target}: OK — {loaded.city}; departments: {enabled}")


# -- civic forms --------------------------------------------------------------------


@forms_app.command("list")
def forms_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every form of every installed department, with its fields."""
    from civic import departments

    registry = departments.collect(load_plugins())
    rows = [
        {
            "department": department.slug,
            "plugin": registry.owners[department.slug],
            "form": name,
            "title": schema.get("title", ""),
            "fields": list(schema.get("properties", {})),
        }
        for department in registry
        for name, schema in department.forms.items()
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        typer.echo(
            f"{row['department']}/{row['form']}: {row['title']} ({len(row['fields'])} fields)"
        )


@forms_app.command("show")
def forms_show(
    name: Annotated[str, typer.Argument(help="DEPARTMENT/FORM, as `civic forms list` shows.")],
) -> None:
    """Print one form's JSON Schema."""
    slug, _, form = name.partition("/")
    from civic import departments

    department = departments.collect(load_plugins()).get(slug)
    if department is None or form not in department.forms:
        fail(f"no form {name!r}; see `civic forms list`", code=2)
    typer.echo(json.dumps(department.forms[form], indent=2, ensure_ascii=False))


@forms_app.command("validate")
def forms_validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Form files to check (default: every installed plugin's forms)."),
    ] = None,
) -> None:
    """Check forms against the civic form meta-schema (schemas/form.schema.json)."""
    from civic import departments, files
    from civic.forms import build_format_checker, form_errors

    manager = load_plugins()
    known = frozenset(build_format_checker(manager).checkers)
    failures = 0
    if paths:
        for path in paths:
            try:
                schema: Any = json.loads(files.read_text(path, files.FORM_LIMIT))
            except files.FileTooLarge as exc:
                errors = [f"cannot read: {exc}"]
            except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
                errors = [f"cannot read JSON: {exc}"]
            else:
                errors = form_errors(schema, formats=known)
            failures += _report(str(path), errors)
    else:
        registry = departments.collect(manager)
        for problem in registry.problems:
            failures += _report(f"{problem.plugin}: {problem.department}", [problem.reason])
        for department in registry:
            for name, schema in department.forms.items():
                label = f"{registry.owners[department.slug]}: {department.slug}/{name}"
                failures += _report(label, form_errors(schema, formats=known))
    if failures:
        raise typer.Exit(code=1)


def _report(label: str, errors: list[str]) -> int:
    if not errors:
        typer.echo(f"{label}: OK")
        return 0
    for error in errors:
        typer.secho(f"{label}: {error}", err=True, fg=typer.colors.RED)
    return 1


# -- civic protocols ----------------------------------------------------------------

#: The same as :data:`civic.protocols.STATUSES` (a test checks), kept here so the help
#: text needs no database modules.
STATUSES = ("received", "in_progress", "answered", "closed")


class ProtocolListFormat(enum.StrEnum):
    """The output formats of ``civic protocols list``."""

    table = "table"
    json = "json"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


@protocols_app.command("list")
def protocols_list(
    department: Annotated[
        list[str] | None,
        typer.Option("--department", "-d", help="Only this department's (slug; repeatable)."),
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", "-s", help="One of: " + ", ".join(STATUSES) + ".")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Filed on this day or later (YYYY-MM-DD or DD/MM/YYYY).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Filed on this day or earlier.")] = None,
    text: Annotated[
        str | None,
        typer.Option("--text", "-t", help="Find in the number, the citizen's name or the answers."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many.", min=1, max=1000)] = 200,
    output_format: Annotated[
        ProtocolListFormat, typer.Option("--format", "-f", help="table or json.")
    ] = ProtocolListFormat.table,
    database_url: DatabaseUrl = None,
    config: ConfigOption = None,
) -> None:
    """List protocols, newest first; --text ignores case and accents."""
    from civic.cli_common import open_engine
    from civic.cli_report import parse_date
    from civic.protocols import list_protocols
    from civic.staff import StaffError

    start, end = parse_date(since, "--since"), parse_date(until, "--until")
    engine = open_engine(database_url, config)
    try:
        found = list_protocols(
            engine,
            departments=department or None,
            status=status,
            since=start,
            until=end,
            text=text,
            limit=limit,
        )
    except StaffError as exc:
        fail(str(exc), code=2)
    finally:
        engine.storage.close()
    if output_format is ProtocolListFormat.json:
        rows = [
            {
                "protocol": p.protocol,
                "department": p.department,
                "form": p.form,
                "status": p.status,
                "created_at": _iso(p.created_at),
                "updated_at": _iso(p.updated_at),
                "citizen_name": p.citizen_name,
                "conversation_id": p.conversation_id,
            }
            for p in found
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not found:
        typer.echo("No protocols.")
        return
    import zoneinfo

    zone = zoneinfo.ZoneInfo(engine.config.hours.timezone)
    typer.echo(f"{'PROTOCOL':<22} {'STATUS':<12} {'DEPARTMENT':<12} {'FILED':<16}  CITIZEN")
    for p in found:
        filed = p.created_at.astimezone(zone).strftime("%d/%m/%Y %H:%M")
        typer.echo(
            f"{p.protocol:<22} {p.status:<12} {p.department:<12} {filed:<16}  "
            f"{p.citizen_name or '-'}"
        )


@protocols_app.command("show")
def protocols_show(
    protocol: Annotated[str, typer.Argument(help="The protocol number (PROCON-2026-000123).")],
    database_url: DatabaseUrl = None,
) -> None:
    """Print a submission: its department, form, status, data and history (JSON)."""
    storage = open_existing_storage(database_url)
    with storage.reading() as tx:
        found = tx.submission(protocol.strip().upper())
        events = tx.protocol_events(found["id"]) if found is not None else []
    storage.close()
    if found is None:
        fail(f"no protocol {protocol!r}")
    record = dict(found)
    record["data"] = json.loads(record["data"])
    if record.pop("secret_data", None):  # encrypted; revealed to staff with an audit
        record["encrypted_fields"] = True
    record["history"] = [
        {
            "at": _iso(event["created_at"]),
            "actor": event["actor"],
            "from_status": event["from_status"],
            "to_status": event["to_status"],
            "note_to_citizen": event["note_to_citizen"],
            "internal_note": event["internal_note"],
        }
        for event in events
    ]
    typer.echo(json.dumps(record, indent=2, ensure_ascii=False, default=str))


@protocols_app.command("set-status")
def protocols_set_status(
    protocol: Annotated[str, typer.Argument(help="The protocol number.")],
    status: Annotated[str, typer.Argument(help="One of: " + ", ".join(STATUSES) + ".")],
    agent: Annotated[
        str, typer.Option("--agent", "-a", help="Who changes it (kept in the history).")
    ] = "operator",
    note: Annotated[
        str | None,
        typer.Option(help="For the citizen: sent to the conversation that filed it."),
    ] = None,
    internal_note: Annotated[
        str | None, typer.Option("--internal-note", help="For the team only.")
    ] = None,
    reopen: Annotated[
        bool, typer.Option("--reopen", help="Allow answered/closed back to in_progress.")
    ] = False,
    database_url: DatabaseUrl = None,
    config: ConfigOption = None,
) -> None:
    """Change a protocol's status, keeping who, when and why in its history.

    received → in_progress → answered → closed (received → answered too); reopening an
    answered or closed protocol (→ in_progress) needs --reopen. The citizen is told, in
    the conversation that filed it, of every --note and of an answer or closing; a
    citizen who asks for the status sees the new one.
    """
    from civic.cli_common import open_engine
    from civic.protocols import set_status
    from civic.staff import StaffError

    if status not in STATUSES:
        fail(f"unknown status {status!r}; use one of: {', '.join(STATUSES)}", code=2)
    engine = open_engine(database_url, config)
    number = protocol.strip().upper()
    try:
        set_status(
            engine,
            number,
            status,
            agent=agent,
            note=note,
            internal_note=internal_note,
            reopen=reopen,
        )
    except StaffError as exc:
        fail(str(exc))
    finally:
        engine.storage.close()
    typer.echo(f"{number}: {status}")
