"""The ``civic`` command line."""

from __future__ import annotations

import enum
import json
import logging
import sys
import uuid
from collections.abc import Iterator
from typing import Annotated

import sqlalchemy as sa
import typer

from civic import __version__, cli_admin, cli_keys, cli_report, instance
from civic.cli_admin import ConfigOption
from civic.cli_common import DatabaseUrl, fail, open_storage
from civic.config import ConfigError, load_config
from civic.engine import Engine
from civic.plugins import PluginLoadError, each_plugin, load_plugins, plugin_infos, pm
from civic.values import Inbound, Outcome, Reply

app = typer.Typer(
    help="civic: a city's citizen-contact service, run as department plugins.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

TERMINAL_CHANNEL = "terminal"


class OutputFormat(enum.StrEnum):
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
        typer.Option("--format", "-f", help="text, or jsonl: one JSON object per bot message."),
    ] = OutputFormat.text,
    config: ConfigOption = None,
) -> None:
    """Chat as a citizen in the terminal.

    When standard input is not a terminal, each line is one citizen message, so
    `civic run < conversation.txt` plays a whole conversation. Blank lines are skipped.
    """
    try:
        city = load_config(config)
    except ConfigError as exc:
        fail("invalid configuration:\n" + "\n".join(exc.problems))
    storage = open_storage(database_url)
    try:
        secret = instance.load_secret()
        instance.verify_secret(storage, secret)
        engine = Engine(storage, secret=secret, config=city)
    except (instance.SecretMismatch, instance.SecretError) as exc:
        fail(str(exc))
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
        for text in _citizen_lines(interactive):
            if output_format is OutputFormat.text and not interactive:
                typer.echo(f"você> {text}")
            outcome = engine.handle(
                Inbound(
                    channel=TERMINAL_CHANNEL,
                    address=address,
                    text=text,
                    pinned_department=department,
                )
            )
            show(outcome)
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
    lines: Iterator[str] = (
        (_decode(raw) for raw in sys.stdin.buffer) if hasattr(sys.stdin, "buffer") else sys.stdin
    )
    for line in lines:
        line = line.rstrip("\r\n")
        if line.strip():
            yield line


def _decode(raw: bytes) -> str:
    """A line as UTF-8, or as Windows-1252 (a file saved by an older Windows editor)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _printer(output_format: OutputFormat, interactive: bool):
    def as_json(outcome: Outcome) -> None:
        for reply in outcome.replies:
            typer.echo(json.dumps(_reply_object(outcome, reply), ensure_ascii=False))
        sys.stdout.flush()

    def as_text(outcome: Outcome) -> None:
        for reply in outcome.replies:
            typer.echo("civic> " + Engine.render(reply).replace("\n", "\n       "))
        if not interactive:
            typer.echo("")
        if not outcome.replies and outcome.state == "waiting_human":
            typer.secho("(mensagem registrada; aguardando atendente)", err=True, dim=True)
        sys.stdout.flush()

    return as_json if output_format is OutputFormat.jsonl else as_text


def _reply_object(outcome: Outcome, reply: Reply) -> dict[str, object]:
    """One line of ``--format jsonl`` (see schemas/run-output.schema.json)."""
    return {
        "conversation": outcome.conversation_id,
        "state": outcome.state,
        "department": outcome.department,
        "text": reply.text,
        "choices": [{"value": c.value, "label": c.label} for c in reply.choices],
    }


# -- civic plugins ------------------------------------------------------------------


@app.command()
def plugins(
    all_: Annotated[
        bool, typer.Option("--all", help="Include civic's built-in default plugins.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    hook: Annotated[
        str | None, typer.Option("--hook", help="Only plugins implementing this hook.")
    ] = None,
) -> None:
    """List the installed plugins: name, version and the hooks each implements."""
    infos = plugin_infos(include_defaults=all_)
    if hook is not None:
        if not hasattr(pm.hook, hook):
            fail(f"unknown hook {hook!r}", code=2)
        infos = [info for info in infos if hook in info["hooks"]]
    if as_json:
        typer.echo(json.dumps(infos, indent=2, ensure_ascii=False))
        return
    if not infos:
        typer.echo("No plugins installed.")
        return
    for info in infos:
        typer.echo(f"{info['name']} {info.get('version') or ''}".rstrip())
        typer.echo(f"  hooks: {', '.join(info['hooks'])}")


cli_admin.register(app)
cli_report.register(app)
cli_keys.register(app)


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
