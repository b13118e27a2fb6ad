"""The team's side of a conversation: the queue, and what an attendant does.

Every action is one transaction on a locked conversation row: it checks the state, moves
the conversation, stores what was written (a message with its author, through the
outbox) and what happened (an event with its actor), and runs the lifecycle hooks after
the commit. The CLI (``civic conversations ...``) and the console are thin adapters
over these functions; a channel delivers what they put in the outbox.

Expiry lives here too: a conversation the citizen left is closed as ``abandoned``.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from typing import TYPE_CHECKING, Any

import attrs

from civic import cpf
from civic.context import Context, SurveyProgress
from civic.durations import durations
from civic.states import WITH_TEAM, State, check_transition
from civic.turn import Happening, Outgoing, rating_question
from civic.values import Reply

if TYPE_CHECKING:
    from civic.engine import Engine
    from civic.storage import Transaction

#: Agent names as the database keeps them (the same limit on every database).
AGENT_NAME_LIMIT = 64
#: The longest attendant reply or note stored.
TEXT_LIMIT = 4000


class StaffError(ValueError):
    """A staff action that cannot be done now; the message says why (for the operator)."""


class NotFound(StaffError):
    """No such conversation."""


@attrs.frozen
class QueueEntry:
    """One conversation in a staff listing."""

    id: int
    state: str
    department: str | None
    channel: str
    address: str
    citizen_name: str | None
    agent: str | None
    opened_at: dt.datetime
    waiting_since: dt.datetime | None
    last_citizen_at: dt.datetime | None


@attrs.frozen
class HistoryItem:
    """A message or an event of a conversation, in order."""

    at: dt.datetime
    kind: str  # "message" or the event's kind
    author: str  # citizen, bot, agent, system
    agent: str | None
    text: str
    status: str | None = None  # delivery status of an outbound message


def agent_name(name: str) -> str:
    """An attendant's name as given on the command line, checked."""
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise StaffError("the attendant's name is empty")
    if len(cleaned) > AGENT_NAME_LIMIT:
        raise StaffError(f"the attendant's name is longer than {AGENT_NAME_LIMIT} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in cleaned):
        raise StaffError("the attendant's name holds control characters")
    return cleaned


def queue_entries(
    engine: Engine,
    *,
    department: str | None = None,
    state: str | None = None,
    agent: str | None = None,
    include_closed: bool = False,
) -> list[QueueEntry]:
    """Conversations for the team, the longest-waiting first."""
    if state is not None and state not in {s.value for s in State}:
        raise StaffError(f"unknown state {state!r}; use one of: {', '.join(s for s in State)}")
    if department is not None:
        department = department.strip().lower()
        if engine.registry.get(department) is None:
            known = ", ".join(engine.registry.slugs) or "none"
            raise StaffError(f"unknown department {department!r}; available: {known}")
    with engine.storage.reading() as tx:
        rows = tx.staff_conversations(
            department=department, state=state, agent=agent, include_closed=include_closed
        )
    return [
        QueueEntry(
            id=row["id"],
            state=row["state"],
            department=row["department"],
            channel=row["channel"],
            address=row["address"],
            citizen_name=row["citizen_name"],
            agent=row["agent"],
            opened_at=row["opened_at"],
            waiting_since=row["handed_over_at"] if row["state"] in WITH_TEAM else None,
            last_citizen_at=row["last_citizen_at"],
        )
        for row in rows
    ]


def history(engine: Engine, conversation_id: int) -> tuple[dict[str, Any], list[HistoryItem]]:
    """A conversation's row and its messages and events, in order."""
    with engine.storage.reading() as tx:
        row = tx.conversation(conversation_id)
        if row is None:
            raise NotFound(f"no conversation {conversation_id}")
        items = [
            HistoryItem(
                at=m["created_at"],
                kind="message",
                author=m["author"],
                agent=m["author_name"],
                text=m["text"],
                status=m["status"],
            )
            for m in tx.messages_with_status(conversation_id)
        ]
        items += [
            HistoryItem(
                at=e["created_at"],
                kind=e["kind"],
                author="system" if e["actor"] in ("bot", "system") else "agent",
                agent=None if e["actor"] in ("bot", "system") else e["actor"],
                text=(e["note"] or "") if e["kind"] != "transferred" else _transfer_text(e),
            )
            for e in tx.events(conversation_id)
        ]
        submissions = tx.submissions_of(conversation_id)
    info = dict(row)
    context = Context.load(row["context"])
    info["context"] = None
    info["held_form"] = context.held_form.progress.get("answers") if context.held_form else None
    info["protocols"] = [s["protocol"] for s in submissions]
    items.sort(key=lambda item: (item.at, item.kind != "message"))
    return info, items


def _transfer_text(event: Any) -> str:
    note = f": {event['note']}" if event["note"] else ""
    return f"→ {event['department']}{note}"


class _Action:
    """One staff action on one locked conversation, in one transaction."""

    def __init__(self, engine: Engine, tx: Transaction, conversation_id: int, actor: str):
        self.engine = engine
        self.tx = tx
        row = tx.lock_conversation(conversation_id)
        if row is None:
            raise NotFound(f"no conversation {conversation_id}")
        self.row = row
        self.actor = actor
        self.now = engine.clock()
        self.state = State(row["state"])
        self.context = Context.load(row["context"])
        self.changes: dict[str, Any] = {}
        self.outgoing: list[Outgoing] = []
        self.happenings: list[Happening] = []
        self.notices: list[tuple[str, dict[str, Any]]] = []

    def move(self, state: State) -> None:
        check_transition(self.state, state)
        self.state = state

    def happened(self, kind: str, note: str | None = None, department: str | None = None) -> None:
        self.happenings.append(
            Happening(kind, self.actor, department or self.row["department"], note)
        )

    @property
    def changed(self) -> bool:
        return bool(
            self.changes
            or self.happenings
            or self.outgoing
            or self.state.value != self.row["state"]
        )

    def finish(self) -> int:
        from civic.engine import queue, record_happenings, snapshot

        values = {"state": self.state.value, "context": self.context.dump(), **self.changes}
        values["updated_at"] = self.now
        if self.state is State.CLOSED:
            values.setdefault("closed_at", self.now)
        values.update(durations(self.row, values))
        self.tx.update_conversation(self.row["id"], **values)
        record_happenings(self.tx, self.row["id"], self.happenings, self.now)
        queue(self.tx, self.row, self.outgoing, self.now)
        fresh = self.tx.conversation(self.row["id"])
        assert fresh is not None
        self.snapshot = snapshot(fresh)
        return int(self.row["id"])


def _run(engine: Engine, conversation_id: int, actor: str, work: Any) -> None:
    """Run ``work(action)`` in a transaction, then the hooks it asked for."""
    with engine.storage.transaction() as tx:
        action = _Action(engine, tx, conversation_id, actor)
        work(action)
        if not action.changed:
            return  # nothing to do after all (taken again, expired already)
        action.finish()
    engine.notify(
        [(hook, {"conversation": action.snapshot, **kw}) for hook, kw in action.notices],
        conversation_id,
    )


def _require_with_team(action: _Action, agent: str) -> None:
    """The conversation waits for the team, or is with ``agent`` (not a colleague)."""
    _require_open(action.row)
    conversation_id = action.row["id"]
    if action.state not in WITH_TEAM:
        raise StaffError(
            f"conversation {conversation_id} is not with the team (state {action.state.value})"
        )
    if action.state is State.AGENT and action.row["agent"] != agent:
        raise StaffError(f"conversation {conversation_id} is with {action.row['agent']}")


def _require_open(row: Any) -> None:
    if row["state"] == State.CLOSED:
        raise StaffError(f"conversation {row['id']} is closed")


def take(engine: Engine, conversation_id: int, agent: str) -> None:
    """Assign a waiting conversation to ``agent`` (``with_agent``)."""
    agent = agent_name(agent)

    def work(action: _Action) -> None:
        _require_open(action.row)
        current = action.row["agent"]
        if action.state is State.AGENT and current == agent:
            return  # taking one's own conversation again changes nothing
        if action.state is State.AGENT:
            raise StaffError(
                f"conversation {conversation_id} is with {current}; they must release or "
                "transfer it first"
            )
        if action.state is not State.HUMAN:
            raise StaffError(
                f"conversation {conversation_id} is not waiting for a person "
                f"(state {action.state.value})"
            )
        action.tx.ensure_agent(agent, action.now)
        action.move(State.AGENT)
        action.changes["agent"] = agent
        action.happened("taken")
        action.notices.append(("conversation_taken", {"agent": agent}))

    _run(engine, conversation_id, agent, work)


def reply(engine: Engine, conversation_id: int, agent: str, text: str) -> None:
    """Write to the citizen as ``agent``: stored with its author and put in the outbox.

    A conversation still waiting in the queue is taken by the attendant who answers it.
    """
    agent = agent_name(agent)
    body = (text or "").strip()
    if not body:
        raise StaffError("the reply is empty")
    if len(body) > TEXT_LIMIT:
        raise StaffError(f"the reply is longer than {TEXT_LIMIT} characters")

    def work(action: _Action) -> None:
        _require_open(action.row)
        if action.state is State.HUMAN:
            action.tx.ensure_agent(agent, action.now)
            action.move(State.AGENT)
            action.changes["agent"] = agent
            action.happened("taken")
            action.notices.append(("conversation_taken", {"agent": agent}))
        elif action.state is not State.AGENT:
            raise StaffError(
                f"conversation {conversation_id} is not with the team (state "
                f"{action.state.value}); the citizen is with the bot"
            )
        elif action.row["agent"] != agent:
            raise StaffError(f"conversation {conversation_id} is with {action.row['agent']}")
        if action.row["agent_first_response_at"] is None:
            action.changes["agent_first_response_at"] = action.now
        action.outgoing.append(Outgoing(Reply(body), author="agent", agent=agent))

    _run(engine, conversation_id, agent, work)


def transfer(
    engine: Engine, conversation_id: int, department: str, *, agent: str, note: str | None = None
) -> None:
    """Move the conversation to another department's queue, with an internal note."""
    agent = agent_name(agent)
    department = (department or "").strip().lower()
    target = engine.registry.get(department)
    if target is None:
        available = ", ".join(engine.registry.slugs) or "none"
        raise StaffError(f"unknown department {department!r}; available: {available}")
    note = cpf.redact((note or "").strip()[:TEXT_LIMIT]) or None

    def work(action: _Action) -> None:
        _require_with_team(action, agent)
        source = action.row["department"]
        if source == department:
            raise StaffError(f"conversation {conversation_id} is already in {department}")
        action.move(State.HUMAN)
        action.changes.update(
            department=department, agent=None, handed_over_at=action.now,
            agent_first_response_at=None,
        )  # fmt: skip
        action.happened("transferred", note, department=department)
        action.outgoing.append(
            Outgoing(Reply(engine.texts("transferred", department=target.name)), author="system")
        )
        action.notices.append(
            (
                "conversation_transferred",
                {"source": source, "target": department, "note": note, "agent": agent},
            )
        )

    _run(engine, conversation_id, agent, work)


def release(engine: Engine, conversation_id: int, agent: str) -> None:
    """Give a conversation back to its department's queue."""
    agent = agent_name(agent)

    def work(action: _Action) -> None:
        if action.state is not State.AGENT:
            raise StaffError(f"conversation {conversation_id} is not with an attendant")
        if action.row["agent"] != agent:
            raise StaffError(f"conversation {conversation_id} is with {action.row['agent']}")
        action.move(State.HUMAN)
        action.changes["agent"] = None
        action.happened("released")
        action.notices.append(("conversation_released", {"agent": agent}))

    _run(engine, conversation_id, agent, work)


def close(engine: Engine, conversation_id: int, agent: str) -> None:
    """The attendant is done: the citizen goes to the closing survey, exactly as on the
    bot's path, and a rating given now records this attendant."""
    agent = agent_name(agent)

    def work(action: _Action) -> None:
        _require_with_team(action, agent)
        action.tx.ensure_agent(agent, action.now)
        action.move(State.RATING)
        action.changes.update(agent=agent, resolved_at=action.now)
        action.context.form = None
        action.context.survey = SurveyProgress()
        action.happened("resolved")
        action.outgoing.append(Outgoing(rating_question(engine)))
        action.notices.append(("conversation_resolved", {"agent": agent}))

    _run(engine, conversation_id, agent, work)


def reveal_cpf(engine: Engine, conversation_id: int, agent: str, reason: str | None) -> str:
    """The citizen's CPF in clear, for an attendant whose work needs it (the conversation
    is theirs, or they are an admin); the reveal is written to the audit table."""
    agent = agent_name(agent)
    with engine.storage.transaction() as tx:
        row = tx.conversation(conversation_id)
        if row is None:
            raise NotFound(f"no conversation {conversation_id}")
        account = tx.agent(agent)
        admin = bool(account and account["is_admin"])
        if row["agent"] != agent and not admin:
            raise StaffError(f"{agent} has not taken conversation {conversation_id}; take it first")
        citizen = tx.citizen(row["citizen_id"]) if row["citizen_id"] else None
        if citizen is None or not citizen["cpf_encrypted"]:
            raise StaffError(f"conversation {conversation_id} has no identified citizen")
        tx.add_audit(
            actor=agent,
            action="reveal_cpf",
            target=f"citizen:{citizen['id']}",
            conversation_id=conversation_id,
            reason=cpf.redact((reason or "").strip()[:500]) or None,
            now=engine.clock(),
        )
    return engine.vault.decrypt(citizen["cpf_encrypted"])


def reveal_submission(
    engine: Engine, protocol: str, agent: str, reason: str | None
) -> dict[str, Any]:
    """A protocol's answers with their document numbers in clear, audited."""
    agent = agent_name(agent)
    with engine.storage.transaction() as tx:
        found = tx.submission(protocol)
        if found is None:
            raise NotFound(f"no protocol {protocol!r}")
        tx.ensure_agent(agent, engine.clock())
        tx.add_audit(
            actor=agent,
            action="reveal_submission",
            target=f"protocol:{protocol}",
            conversation_id=found["conversation_id"],
            reason=cpf.redact((reason or "").strip()[:500]) or None,
            now=engine.clock(),
        )
        citizen = tx.citizen(found["citizen_id"]) if found["citizen_id"] else None
    data: dict[str, Any] = json.loads(found["data"])
    if found["secret_data"]:
        data.update(engine.vault.decrypt_json(found["secret_data"]))
    if citizen is not None and citizen["cpf_encrypted"]:
        data["_citizen_cpf"] = engine.vault.decrypt(citizen["cpf_encrypted"])
    return data


# -- expiry ---------------------------------------------------------------------------


def expire(engine: Engine, *, limit: int = 500) -> list[int]:
    """Close as ``abandoned`` the conversations whose citizen went quiet for longer than
    the city's limits, with a polite notice where the city wants one.

    Safe from cron and from several workers at once: each conversation is re-checked on
    its locked row, so it is closed once. Returns the ids closed.
    """
    expiry = engine.config.expiry
    now = engine.clock()
    with engine.storage.reading() as tx:
        candidates = tx.expirable_conversations(
            idle_before=now - expiry.after,
            survey_idle_before=now - expiry.survey_after,
            team_idle_before=now - expiry.team_after if expiry.team_after else None,
            limit=limit,
        )
    closed = []
    for conversation_id in candidates:
        done: list[int] = []

        def work(action: _Action, done: list[int] = done) -> None:
            row = action.row
            if action.state is State.CLOSED:
                return
            last = row["updated_at"]  # the last message or action, the citizen's or not
            if action.state is State.RATING:
                limit_at = now - expiry.survey_after
            elif action.state in WITH_TEAM:
                if not expiry.team_after:
                    return
                limit_at = now - expiry.team_after
            else:
                limit_at = now - expiry.after
            if last > limit_at:
                return  # the citizen wrote in the meantime
            action.move(State.CLOSED)
            action.changes.update(close_reason="abandoned", closed_at=action.now)
            action.context.form = None
            action.context.survey = None
            action.happened("expired")
            if expiry.notice:
                action.outgoing.append(
                    Outgoing(Reply(engine.texts("expired_notice")), author="system")
                )
            action.notices.append(("conversation_closed", {}))
            done.append(row["id"])

        _run(engine, conversation_id, "system", work)
        closed += done
    return closed
