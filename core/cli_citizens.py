"""``civic citizens``: a citizen's rights over their data, by CPF (LGPD art. 18).

``show`` confirms and summarises what is held, ``export`` writes everything as JSON (for
the citizen: access and portability), ``forget`` anonymises it (see :mod:`civic.rights`
for what is kept and why). Each is audited with who (``--by``, default the operating
system's user) and why (``--reason``, required for ``export`` and ``forget``). The CPF
may be typed any way (``529.982.247-25``, ``529 982 247 25``); it is never printed in
clear, and a wrong or unknown CPF exits with status 1 and a one-line error.
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from civic.cli_common import ConfigOption, DatabaseUrl, fail, open_engine

citizens_app = typer.Typer(
    rich_markup_mode=None,
    help="A citizen's data by CPF: show, export, forget (LGPD art. 18), audited.",
    no_args_is_help=True,
)

Cpf = Annotated[str, typer.Argument(help="The citizen's CPF (dots, dashes and spaces are fine).")]
By = Annotated[
    str | None,
    typer.Option("--by", help="Who handles the request (audited; default: your user name)."),
]


def register(app: typer.Typer) -> None:
    """Add ``civic citizens`` to the main application."""
    app.add_typer(citizens_app, name="citizens")


def _who(by: str | None) -> str:
    if by is not None:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name known to the system
        fail("say who you are with --by NAME")


def _run(database_url: str | None, config: Path | None, action: Any, *args: Any, **kw: Any) -> Any:
    """Run a rights function; its refusal is a one-line error (exit 1), not a traceback."""
    from civic.rights import RightsError, parse_cpf

    try:
        parse_cpf(args[0])  # a wrong CPF is said before the database is opened
    except RightsError as exc:
        fail(str(exc))
    engine = open_engine(database_url, config)
    try:
        return action(engine, *args, **kw)
    except RightsError as exc:
        fail(str(exc))
    finally:
        engine.storage.close()


@citizens_app.command("show")
def show(
    cpf: Cpf,
    by: By = None,
    reason: Annotated[str | None, typer.Option("--reason", "-r", help="Why (audited).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database_url: DatabaseUrl = None,
    config: ConfigOption = None,
) -> None:
    """Whether civic holds data about the citizen, and what (CPF masked)."""
    from civic import rights

    found = _run(database_url, config, rights.summary, cpf, by=_who(by), reason=reason)
    if as_json:
        typer.echo(json.dumps(found, indent=2, ensure_ascii=False, default=str))
        return
    citizen = found["citizen"]
    typer.echo(f"Citizen {citizen['id']}: {citizen['name']} — CPF {citizen['cpf']}")
    typer.echo(f"First contact {citizen['created_at']}, last {citizen['last_seen_at']}")
    typer.echo(f"Conversations: {len(found['conversations'])}")
    for c in found["conversations"]:
        closed = c["closed_at"] or "open"
        typer.echo(
            f"  {c['id']:>6}  {c['channel']:<10} {c['department'] or '-':<10} "
            f"{c['state']:<14} {c['opened_at']} → {closed}  ({c['messages']} messages)"
        )
    typer.echo(f"Protocols: {len(found['protocols'])}")
    for p in found["protocols"]:
        typer.echo(f"  {p['protocol']}  {p['department']}  {p['status']}  {p['created_at']}")
    typer.echo(f"Ratings: {found['ratings']}; audit entries: {found['audit_entries']}")


@citizens_app.command("export")
def export(
    cpf: Cpf,
    reason: Annotated[
        str, typer.Option("--reason", "-r", help="Why, for example the request's number.")
    ],
    by: By = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write to this file (owner-only) instead of standard output."
        ),
    ] = None,
    database_url: DatabaseUrl = None,
    config: ConfigOption = None,
) -> None:
    """Everything civic holds about the citizen, as JSON: conversations and messages,
    protocols with their answers (decrypted), ratings, and the audit of who saw their
    data. Give it to the citizen only."""
    from civic import rights

    found = _run(database_url, config, rights.export, cpf, by=_who(by), reason=reason)
    text = json.dumps(found, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    typer.echo(f"Exported citizen {found['citizen']['id']} to {output}.", err=True)


@citizens_app.command("forget")
def forget(
    cpf: Cpf,
    reason: Annotated[
        str, typer.Option("--reason", "-r", help="Why, for example the request's number.")
    ],
    by: By = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    database_url: DatabaseUrl = None,
    config: ConfigOption = None,
) -> None:
    """Anonymise the citizen: name, CPF, phone, message texts and form answers; protocol
    numbers, statuses and dates, and ratings' scores are kept (see docs/privacy.md).
    Their conversations must be closed. This cannot be undone."""
    from civic import rights

    if not yes and not typer.confirm("Anonymise this citizen? This cannot be undone"):
        fail("nothing done")
    done = _run(database_url, config, rights.forget, cpf, by=_who(by), reason=reason)
    typer.echo(
        f"Citizen {done.citizen_id} anonymised: {done.conversations} conversation(s), "
        f"{done.messages} message(s), {done.submissions} protocol(s) emptied, "
        f"{done.ratings} comment(s) deleted, {done.deliveries} raw delivery(ies) deleted."
    )
    if not done.compacted:
        typer.secho(
            "Warning: the database file could not be rewritten now (it is busy): old copies "
            "may stay in its free pages until you run `sqlite3 civic.db VACUUM`.",
            err=True,
        )
