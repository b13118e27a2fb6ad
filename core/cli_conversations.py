"""``civic conversations``: the team's side of conversations, from the command line.

Every action an attendant takes in the console is also a command, so an operator can
script it and tests can drive it without a browser. Heavy modules (the engine, the
database) are imported inside the commands, so ``civic --help`` stays fast.
"""

from __future__ import annotations

import enum
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from civic.cli_common import ConfigOption, DatabaseUrl, fail, open_engine

if TYPE_CHECKING:
    from civic.engine import Engine

conversations_app = typer.Typer(
    rich_markup_mode=None,
    help="The team's side: list the queue, take, reply, transfer, release, close, expire.",
    no_args_is_help=True,
)

Agent = Annotated[str, typer.Option("--agent", "-a", help="The attendant's name.")]
ConversationId = Annotated[
    int, typer.Argument(help="The conversation's number.", min=1, max=2**63 - 1)
]


class ListFormat(enum.StrEnum):
    table = "table"
    json = "json"


def register(app: typer.Typer) -> None:
    """Add ``civic conversations`` to the main application."""
    app.add_typer(conversations_app, name="conversations")


def _staff(engine: Engine, action: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a staff action; its refusal is an operator error (exit 1), not a traceback."""
    from civic.staff import StaffError

    try:
        return action(engine, *args, **kwargs)
    except StaffError as exc:
        fail(str(exc))
    finally:
        engine.storage.close()


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


@conversations_app.command("list")
def list_(
    department: Annotated[
        str | None, typer.Option("--department", "-d", help="Only this department (slug).")
    ] = None,
    state: Annotated[
        str | None,
        typer.Option("--state", "-s", help="Only this state (waiting_human, with_agent...)."),
    ] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Only this attendant's.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include closed conversations.")] = False,
    output_format: Annotated[
        ListFormat, typer.Option("--format", "-f", help="table or json.")
    ] = ListFormat.table,
    database_url: DatabaseUrl = None,
    config: ConfigOption = None,
) -> None:
    """List open conversations, the longest-waiting first."""
    from civic.staff import StaffError, queue_entries

    engine = open_engine(database_url, config)
    try:
        entries = queue_entries(
            engine, department=department, state=state, agent=agent, include_closed=all_
        )
    except StaffError as exc:
        fail(str(exc), code=2)
    finally:
        engine.storage.close()
    now = engine.clock()
    if output_format is ListFormat.json:
        rows = [
            {
                "id": e.id,
                "state": e.state,
                "department": e.department,
                "channel": e.channel,
                "address": e.address,
                "citizen_name": e.citizen_name,
                "agent": e.agent,
                "opened_at": _iso(e.opened_at),
                "waiting_since": _iso(e.waiting_since),
                "waiting_seconds": int((now - e.waiting_since).total_seconds())
                if e.waiting_since
                else None,
                "last_citizen_at": _iso(e.last_citizen_at),
            }
            for e in entries
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not entries:
        typer.echo("No conversations.")
        return
    typer.echo(f"{'ID':>6}  {'STATE':<20} {'DEPARTMENT':<12} {'AGENT':<16} {'WAITING':>8}  CITIZEN")
    for e in entries:
        waiting = _duration((now - e.waiting_since).total_seconds()) if e.waiting_since else "-"
        typer.echo(
            f"{e.id:>6}  {e.state:<20} {e.department or '-':<12} {e.agent or '-':<16} "
            f"{waiting:>8}  {e.citizen_name or '-'}"
        )


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}" if hours < 48 else f"{hours // 24} d"


@conversations_app.command("show")
def show(
    conversation_id: ConversationId,
    output_format: Annotated[
        ListFormat, typer.Option("--format", "-f", help="table (text) or json.")
    ] = ListFormat.table,
    database_url: DatabaseUrl = None,
    config: ConfigOption = None,
) -> None:
    """A conversation's whole history: every message with its author, and every event."""
    from civic.staff import history

    engine = open_engine(database_url, config)
    info, items = _staff(engine, history, conversation_id)
    if output_format is ListFormat.json:
        record = {
            key: _iso(value) if hasattr(value, "isoformat") else value
            for key, value in info.items()
            if key != "context"
        }
        record["history"] = [
            {
                "at": _iso(item.at),
                "kind": item.kind,
                "author": item.author,
                "agent": item.agent,
                "text": item.text,
                "status": item.status,
            }
            for item in items
        ]
        typer.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    typer.echo(
        f"Conversation {info['id']} — {info['state']}, {info['department'] or 'no department'}"
        f", {info['channel']}:{info['address']}"
    )
    typer.echo(f"Citizen: {info['citizen_name'] or '(not identified)'}")
    if info["agent"]:
        typer.echo(f"Attendant: {info['agent']}")
    if info["protocols"]:
        typer.echo(f"Protocols: {', '.join(info['protocols'])}")
    if info["held_form"]:
        typer.echo(f"Form answers so far: {json.dumps(info['held_form'], ensure_ascii=False)}")
    for item in items:
        when = item.at.strftime("%Y-%m-%d %H:%M")
        if item.kind == "message":
            who = f"{item.agent} (agent)" if item.author == "agent" else item.author
            status = f" [{item.status}]" if item.status else ""
            text = item.text.replace("\n", "\n" + " " * 19)
            typer.echo(f"{when}  {who}{status}: {text}")
        else:
            by = f" by {item.agent}" if item.agent else ""
            typer.echo(f"{when}  -- {item.kind}{by}{': ' + item.text if item.text else ''}")


@conversations_app.command("take")
def take(
    conversation_id: ConversationId,
    agent: Agent,
    database_url: DatabaseUrl = None,
    config: ConfigOption = None,
) -> None:
    """Take a conversation waiting in the queue: it is yours to answer."""
    from civic import staff

    _staff(open_engine(database_url, config), staff.take, conversation_id, agent)
    typer.echo(f"Conversation {conversation_id} taken by {agent}.")


@conversations_app.command("reply")
def reply(
    conversation_id: ConversationId,
    text: Annotated[str, typer.Argument(help="What to write to the citizen.")],
    agent: Agent,
    database_url: DatabaseUrl = None,
    config: ConfigOption = None,
) -> None:
    """Write to the citizen; the message goes out through their own channel."""
    from civic import staff

    _staff(open_engine(database_url, config), staff.reply, conversation_id, agent, text)
    typer.echo(f"Reply queued for conversation {conversation_id}.")


@conversations_app.command("transfer")
def transfer(
    conversation_id: ConversationId,
    department: Annotated[str, typer.Argument(help="The department to send it to (slug).")],
    note: Annotated[
        str | None, typer.Option("--note", "-n", help="An internal note for the next team.")
    ] = None,
    agent: Annotated[
        str, typer.Option("--agent", "-a", help="Who transfers it (default: operator).")
    ] = "operator",
    database_url: DatabaseUrl = None,
    config: ConfigOption = None,
) -> None:
    """Move a conversation to another department's queue."""
    from civic import staff

    engine = open_engine(database_url, config)
    _staff(engine, staff.transfer, conversation_id, department, agent=agent, note=note)
    typer.echo(f"Conversation {conversation_id} transferred to {department}.")


@conversations_app.command("release")
def release(
    conversation_id: ConversationId,
    agent: Agent,
    database_url: DatabaseUrl = None,
    config: ConfigOption = None,
) -> None:
    """Give a conversation back to its department's queue."""
    from civic import staff

    _staff(open_engine(database_url, config), staff.release, conversation_id, agent)
    typer.echo(f"Conversation {conversation_id} is back in the queue.")


@conversations_app.command("close")
def close(
    conversation_id: ConversationId,
    agent: Agent,
    database_url: DatabaseUrl = None,
    config: ConfigOption = None,
) -> None:
    """Close your part: the citizen is asked the closing survey, which records you."""
    from civic import staff

    _staff(open_engine(database_url, config), staff.close, conversation_id, agent)
    typer.echo(f"Conversation {conversation_id} closed; the citizen is asked to rate it.")


@conversations_app.command("reveal-cpf")
def reveal_cpf(
    conversation_id: ConversationId,
    agent: Agent,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why you need it (audited).")],
    database_url: DatabaseUrl = None,
    config: ConfigOption = None,
) -> None:
    """Show the citizen's CPF to the attendant who took the conversation (audited)."""
    from civic import staff
    from civic.cpf import formatted

    digits = _staff(
        open_engine(database_url, config), staff.reveal_cpf, conversation_id, agent, reason
    )
    typer.echo(formatted(digits))


@conversations_app.command("expire")
def expire(
    database_url: DatabaseUrl = None,
    config: ConfigOption = None,
) -> None:
    """Close as abandoned the conversations whose citizen went quiet (run it from cron;
    several at once are safe)."""
    from civic import staff

    closed = _staff(open_engine(database_url, config), staff.expire)
    typer.echo(f"{len(closed)} conversation(s) closed as abandoned.")
