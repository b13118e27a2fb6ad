"""The ``civic`` command line.

Start-up stays cheap: ``civic --help``, ``civic plugins`` and an unknown command load no
database stack (sqlalchemy, sqlmodel, psycopg) and no jsonschema. Every command module
(``cli_admin``, ``cli_report``, and any new ``cli_<topic>.py``) follows one pattern:

- at the top it imports only typer, the standard library and light civic modules
  (``civic.cli_common``, ``civic.plugins``, ``civic.values``, ``civic.config``);
- ``civic.storage``, ``civic.engine``, ``civic.report``, ``civic.departments``,
  ``civic.forms`` and sqlalchemy are imported *inside* the command functions that use
  them (``TYPE_CHECKING`` imports for annotations);
- option types are plain ``Annotated[..., typer.Option(...)]`` aliases (Typer reads them
  to build ``--help``), shared ones from ``civic.cli_common``;
- it exposes ``register(app)``, called at the bottom of this module.

``tests/test_startup.py`` fails when ``--help`` imports a heavy module again.
"""

from __future__ import annotations

import enum
import json
import logging
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from civic import (
    __version__,
    cli_admin,
    cli_agents,
    cli_citizens,
    cli_conversations,
    cli_keys,
    cli_new_plugin,
    cli_plugins,
    cli_privacy,
    cli_report,
    cli_serve,
    cli_texts,
)
from civic.cli_common import ConfigOption, DatabaseUrl, fail, open_engine
from civic.plugins import PluginLoadError, each_plugin, load_plugins
from civic.values import Delivery, Inbound, Outcome

if TYPE_CHECKING:
    from civic.engine import Engine

app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich costs a third of the start-up
    help="civic: a city's citizen-contact service, run as department plugins.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

TERMINAL_CHANNEL = "terminal"


class OutputFormat(enum.StrEnum):
    text = "text"
    jsonl = "jsonl"


class InputFormat(enum.StrEnum):
    text = "text"
    jsonl = "jsonl"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"civic {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log what civic does to standard error.")
    ] = False,
) -> None:
    """civic: a city's citizen-contact service, run as department plugins."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="civic: %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    from civic import redaction  # here, to keep start-up light

    redaction.install()


# -- civic run ----------------------------------------------------------------------


@app.command()
def run(
    database_url: DatabaseUrl = None,
    department: Annotated[
        str | None,
        typer.Option(
            "--department", "-d", help="Pin the conversation to one department (its slug)."
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="The citizen's channel address (a phone number). A returning address "
            "resumes its open conversation. Default: a new address each run.",
        ),
    ] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", help="text, or jsonl: one JSON object per message."),
    ] = OutputFormat.text,
    input_format: Annotated[
        InputFormat,
        typer.Option(
            "--input",
            help='text (one message per line), or jsonl: {"text": ..., "id": ...} per line, '
            "where id is the channel message id (a repeated id is a retried delivery).",
        ),
    ] = InputFormat.text,
    config: ConfigOption = None,
) -> None:
    """Chat as a citizen in the terminal.

    The terminal is a channel like any other: `civic run --as ADDRESS` first prints what
    is waiting in the outbox for that address (an attendant's reply, the survey after an
    attendant closed), then handles its input. When standard input is not a terminal,
    each line is one citizen message, so `civic run < conversation.txt` plays a whole
    conversation. Blank lines are skipped.
    """
    import sqlalchemy as sa

    from civic.engine import InvalidInbound

    engine = open_engine(database_url, config)
    storage = engine.storage
    if department is not None and engine.registry.get(department) is None:
        available = ", ".join(engine.registry.slugs) or "none"
        fail(f"unknown department {department!r}; available: {available}", code=2)
    if address is not None and not address.strip():
        fail("--as needs a non-empty address", code=2)
    address = address.strip() if address else f"terminal-{uuid.uuid4().hex[:12]}"
    interactive = sys.stdin.isatty()
    if interactive:
        typer.secho(
            f"civic {__version__} — conversa como cidadão ({address}). "
            "Ctrl-D para sair; para retomar depois: civic run --as " + address,
            err=True,
            dim=True,
        )
    show = _printer(output_format, interactive)
    try:
        waiting = engine.pending(TERMINAL_CHANNEL, address)
        if waiting:
            show(engine, waiting, None)
        for text, message_id in _inputs(_citizen_lines(interactive), input_format):
            if output_format is OutputFormat.text and not interactive:
                typer.echo(f"você> {text}")
            try:
                outcome = engine.handle(
                    Inbound(
                        channel=TERMINAL_CHANNEL,
                        address=address,
                        text=text,
                        channel_message_id=message_id,
                        pinned_department=department,
                    )
                )
            except InvalidInbound as exc:
                fail(str(exc), code=2)
            show(engine, [d for d in outcome.deliveries if d.status == "pending"], outcome)
    except KeyboardInterrupt:
        typer.echo("", err=True)
    except sa.exc.DBAPIError as exc:  # the database went away or refuses writes
        fail(f"database error, the last message was not saved: {exc.orig}")
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away; nothing more to say
    finally:
        storage.close()


def _citizen_lines(interactive: bool) -> Iterator[str]:
    """Citizen messages: prompted on a terminal, one per non-blank line otherwise."""
    if interactive:
        while True:
            try:
                line = input("você> ")
            except EOFError:
                typer.echo("", err=True)
                return
            if line.strip():
                yield line
        return
    lines: Iterator[str] = _limited_lines() if hasattr(sys.stdin, "buffer") else sys.stdin
    for line in lines:
        line = line.rstrip("\r\n")
        if line.strip():
            yield line


def _limited_lines() -> Iterator[str]:
    """Standard input's lines, decoded; a line longer than :data:`civic.files.LINE_LIMIT`
    (``civic run < /dev/zero``) stops the command with a clear error."""
    from civic import files

    number = 0
    while True:
        number += 1
        try:
            raw = files.read_line(sys.stdin.buffer)
        except files.FileTooLarge as exc:
            fail(f"input line {number}: {exc}", code=2)
        if raw is None:
            return
        yield _decode(raw)


def _inputs(lines: Iterator[str], input_format: InputFormat) -> Iterator[tuple[str, str | None]]:
    """Each message's text and channel message id (``--input jsonl`` gives ids)."""
    for number, line in enumerate(lines, start=1):
        if input_format is InputFormat.text:
            yield line, None
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            fail(f"input line {number} is not JSON: {exc}", code=2)
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            fail(f'input line {number}: expected {{"text": "...", "id": "..."}}', code=2)
        message_id = item.get("id")
        if message_id == "":
            message_id = None  # no id: a new message
        if message_id is not None and not isinstance(message_id, str | int):
            fail(f"input line {number}: id must be a string", code=2)
        yield item["text"], None if message_id is None else str(message_id)


def _decode(raw: bytes) -> str:
    """A line as UTF-8, or as Windows-1252 (a file saved by an older Windows editor)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


Show = Callable[["Engine", Sequence["Delivery"], "Outcome | None"], None]


def _printer(output_format: OutputFormat, interactive: bool) -> Show:
    """Print deliveries (then mark them sent: the terminal delivered them)."""

    def as_json(engine: Engine, deliveries: Sequence[Delivery], outcome: Outcome | None) -> None:
        for delivery in deliveries:
            typer.echo(json.dumps(_reply_object(engine, delivery, outcome), ensure_ascii=False))
        sys.stdout.flush()
        engine.mark([d.id for d in deliveries], "sent")

    def as_text(engine: Engine, deliveries: Sequence[Delivery], outcome: Outcome | None) -> None:
        for delivery in deliveries:
            who = f"{delivery.agent} (atendente)" if delivery.author == "agent" else "civic"
            indent = "\n" + " " * (len(who) + 2)
            typer.echo(f"{who}> " + engine.render(delivery.reply).replace("\n", indent))
        if not interactive:
            typer.echo("")
        if outcome is not None and not deliveries and outcome.state in TEAM_STATES:
            typer.secho("(mensagem registrada; aguardando atendente)", err=True, dim=True)
        sys.stdout.flush()
        engine.mark([d.id for d in deliveries], "sent")

    return as_json if output_format is OutputFormat.jsonl else as_text


TEAM_STATES = ("waiting_human", "with_agent")


def _reply_object(engine: Engine, delivery: Delivery, outcome: Outcome | None) -> dict[str, object]:
    """One line of ``--format jsonl`` (see schemas/run-output.schema.json)."""
    if outcome is None:
        conversation = engine.conversation(delivery.conversation_id or 0)
        state = conversation.state if conversation else "closed"
        department = conversation.department if conversation else None
    else:
        state, department = outcome.state, outcome.department
    reply = delivery.reply
    return {
        "conversation": delivery.conversation_id,
        "state": state,
        "department": department,
        "text": reply.text,
        "choices": [{"value": c.value, "label": c.label} for c in reply.choices],
        "author": delivery.author,
        "agent": delivery.agent,
    }


cli_admin.register(app)
cli_plugins.register(app)
cli_report.register(app)
cli_keys.register(app)
cli_conversations.register(app)
cli_serve.register(app)
cli_agents.register(app)
cli_texts.register(app)
cli_new_plugin.register(app)
cli_citizens.register(app)
cli_privacy.register(app)


# -- entry point --------------------------------------------------------------------


def _register_plugin_commands() -> None:
    for name, caller in each_plugin("register_commands"):
        try:
            caller(cli=app)
        except Exception as exc:  # a broken plugin command must not break the others
            typer.secho(f"Warning: plugin {name} failed to add commands: {exc}", err=True)


def main() -> None:
    """The ``civic`` console script."""
    try:
        load_plugins()
    except PluginLoadError as exc:
        typer.secho(f"Error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(1)
    _register_plugin_commands()
    app()
