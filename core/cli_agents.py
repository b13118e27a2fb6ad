"""``civic agents``: the attendants' accounts (who signs in to the console).

A password is typed at a hidden prompt (twice), or read as one line from standard input
with ``--password-stdin`` (for scripts); it is never an option, so it never lands in the
shell's history or the process list. The database and the password hasher are imported
inside the commands, so ``civic --help`` stays fast.
"""

from __future__ import annotations

import enum
import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from civic.cli_common import DatabaseUrl, fail

if TYPE_CHECKING:
    from civic.accounts import Account

agents_app = typer.Typer(
    rich_markup_mode=None,
    help="Attendants' accounts: add, list, disable, reset a password.",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="The attendant's name (as they sign in).")]
PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password as one line from standard input."),
]


class ListFormat(enum.StrEnum):
    table = "table"
    json = "json"


def register(app: typer.Typer) -> None:
    """Add ``civic agents`` to the main application."""
    app.add_typer(agents_app, name="agents")


def _read_password(from_stdin: bool) -> str:
    """The new password: one line of standard input, or typed twice at a hidden prompt."""
    if from_stdin:
        line = sys.stdin.readline(4096)  # never an endless input (passwords: 1024 at most)
        password = line.rstrip("\r\n")
        if not password:
            fail("no password on standard input", code=2)
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@agents_app.command("add")
def add(
    name: Name,
    departments: Annotated[
        str,
        typer.Option(
            "--departments",
            "-d",
            help="The departments they answer, comma-separated slugs (cac,procon).",
        ),
    ] = "",
    admin: Annotated[
        bool, typer.Option("--admin", help="An admin: sees every department, manages others.")
    ] = False,
    password_stdin: PasswordStdin = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Add an attendant who can sign in to the console.

    An attendant already named in conversations (recorded by a staff command, with no
    password) gets the account; one who has a password already is refused.
    """
    from civic import accounts
    from civic import departments as department_registry
    from civic.cli_common import open_storage
    from civic.plugins import load_plugins
    from civic.storage import utcnow

    try:
        accounts.check_name(name)
        known = department_registry.collect(load_plugins()).slugs
        slugs = accounts.check_departments(departments.split(","), known)
    except accounts.AccountError as exc:
        fail(str(exc), code=2)
    if not slugs and not admin:
        fail("give the departments they answer (--departments cac,procon) or --admin", code=2)
    name = " ".join(name.split())
    storage = open_storage(database_url)
    try:
        known_name = accounts.get_account(storage, name) is not None
        if known_name and name not in accounts.without_password(storage):  # before asking
            fail(f"the attendant {name!r} has an account already; use reset-password")
        password = _read_password(password_stdin)
        try:
            accounts.check_password(password, name)
        except accounts.AccountError as exc:
            fail(str(exc), code=2)
        account = accounts.add_agent(storage, name, password, slugs, admin=admin, now=utcnow())
    except accounts.AccountError as exc:
        fail(str(exc))
    finally:
        storage.close()
    typer.echo(f"Added {account.name} ({_departments(account)}).")


@agents_app.command("list")
def list_(
    output_format: Annotated[
        ListFormat, typer.Option("--format", "-f", help="table or json.")
    ] = ListFormat.table,
    database_url: DatabaseUrl = None,
) -> None:
    """List the attendants: departments, admin, and whether they can sign in."""
    from civic import accounts
    from civic.cli_common import open_storage

    storage = open_storage(database_url)
    try:
        agents = accounts.list_agents(storage)
        waiting = accounts.without_password(storage)
    finally:
        storage.close()
    if output_format is ListFormat.json:
        rows = [
            {
                "name": a.name,
                "departments": list(a.departments),
                "admin": a.is_admin,
                "active": a.active,
                "has_password": a.name not in waiting,
            }
            for a in agents
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not agents:
        typer.echo("No attendants.")
        return
    width = max(16, *(len(a.name) for a in agents))
    typer.echo(f"{'NAME':<{width}}  {'STATUS':<11}  DEPARTMENTS")
    for a in agents:
        status = "disabled" if not a.active else "no password" if a.name in waiting else "active"
        typer.echo(f"{a.name:<{width}}  {status:<11}  {_departments(a)}")


@agents_app.command("disable")
def disable(name: Name, database_url: DatabaseUrl = None) -> None:
    """Stop an attendant from signing in, and end their sessions now."""
    from civic import accounts
    from civic.cli_common import open_storage
    from civic.storage import utcnow

    storage = open_storage(database_url)
    try:
        accounts.disable_agent(storage, name, utcnow())
    except accounts.AccountError as exc:
        fail(str(exc))
    finally:
        storage.close()
    typer.echo(f"Disabled {' '.join(name.split())}; their sessions are ended.")


@agents_app.command("reset-password")
def reset_password(
    name: Name, password_stdin: PasswordStdin = False, database_url: DatabaseUrl = None
) -> None:
    """Give an attendant a new password (or their first); it ends their sessions and
    lifts a sign-in lock."""
    from civic import accounts
    from civic.cli_common import open_storage
    from civic.storage import utcnow

    try:
        name = accounts.check_name(name)
    except accounts.AccountError as exc:
        fail(str(exc), code=2)
    storage = open_storage(database_url)
    try:
        if accounts.get_account(storage, name) is None:  # say so before asking for one
            fail(f"no attendant called {name!r}")
        password = _read_password(password_stdin)
        try:
            accounts.check_password(password, name)
        except accounts.AccountError as exc:
            fail(str(exc), code=2)
        accounts.reset_password(storage, name, password, utcnow())
    except accounts.AccountError as exc:
        fail(str(exc))
    finally:
        storage.close()
    typer.echo(f"New password set for {name}.")


def _departments(account: Account) -> str:
    if account.is_admin:
        return "admin: every department"
    return ", ".join(account.departments) or "no department"
