"""Protocols for the team: list and search them, see one with its history, change its status.

A protocol is a submitted form (:class:`civic.tables.Submission`). Its status moves
forward through :data:`STATUSES`::

    received ──> in_progress ──> answered ──> closed
        └────────────────────────────^

- ``received → answered``: a simple request may be answered at once, without analysis;
- ``answered → closed``: the case is done. A protocol is never closed without an answer
  first: Lei 13.460/2017 art. 16 asks for a final answer to the citizen, and the
  deadline figure of the reports (art. 23, compliance with deadlines) counts the first
  ``answered`` change, so a protocol closed unanswered would vanish from it;
- ``answered`` or ``closed → in_progress`` reopens a protocol (the citizen came back, the
  answer was incomplete), only when asked explicitly (``reopen=True``).

Every change is one transaction: the submission moves, a
:class:`~civic.tables.ProtocolEvent` records who, when, from, to and both notes (CPFs
masked), and when there is a note for the citizen, or the protocol was answered or
closed, a message is put in the outbox of the conversation that filed it (through
:func:`civic.engine.queue`, written by the attendant), so it reaches the citizen on their
own channel. The CLI (``civic protocols``) and the console are adapters over these.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from civic import cpf
from civic.staff import TEXT_LIMIT, NotFound, StaffError, agent_name
from civic.turn import Outgoing
from civic.values import Reply

if TYPE_CHECKING:
    from civic.engine import Engine

#: Every status a protocol can have, in the order a protocol goes through them.
STATUSES = ("received", "in_progress", "answered", "closed")
#: The statuses each status may move to (reopening aside).
TRANSITIONS: Mapping[str, tuple[str, ...]] = {
    "received": ("in_progress", "answered"),
    "in_progress": ("answered",),
    "answered": ("closed",),
    "closed": (),
}
#: The statuses a protocol may be reopened from, and the status it is reopened to.
REOPENABLE = ("answered", "closed")
REOPENED = "in_progress"
#: Statuses the citizen is always told about, with or without a note.
TOLD = ("answered", "closed")
#: The most protocols a listing returns.
LIST_LIMIT = 1000


@attrs.frozen
class ProtocolSummary:
    """One protocol in a listing (never its answers). ``department`` is the slug."""

    protocol: str
    department: str
    form: str
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    citizen_name: str | None
    conversation_id: int


@attrs.frozen
class ProtocolEventView:
    """One change of a protocol's status: who (``actor``), when, and both notes."""

    at: dt.datetime
    actor: str
    from_status: str
    to_status: str
    note_to_citizen: str | None
    internal_note: str | None


def allowed_next(status: str, *, reopen: bool = False) -> tuple[str, ...]:
    """The statuses a protocol in ``status`` may move to; with ``reopen``, also back to
    ``in_progress`` from ``answered`` or ``closed``. An unknown status moves nowhere."""
    found = TRANSITIONS.get(status, ())
    if reopen and status in REOPENABLE:
        return (*found, REOPENED)
    return found


def check_status(status: str) -> str:
    """``status`` if it is one of :data:`STATUSES`; a :class:`StaffError` otherwise."""
    if status not in STATUSES:
        raise StaffError(f"unknown status {status!r}; use one of: {', '.join(STATUSES)}")
    return status


def protocol_number(protocol: str) -> str:
    """A protocol number as typed (``procon-2026-000123 ``), as stored."""
    return (protocol or "").strip().upper()


def list_protocols(
    engine: Engine,
    *,
    departments: Iterable[str] | None = None,
    status: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    text: str | None = None,
    limit: int = 200,
) -> list[ProtocolSummary]:
    """Protocols, newest first.

    :param departments: only these departments' (slugs); ``None`` for every one, an
        empty collection for none (an attendant of no department sees nothing).
    :param status: only protocols in this status.
    :param since: filed on this day or later (the city's days, ``[hours] timezone``).
    :param until: filed on this day or earlier.
    :param text: words to find, ignoring case and accents, in the protocol number, the
        citizen's name or the answers (as stored: document numbers masked, so a CPF is
        not searchable).
    :param limit: at most this many (1 to :data:`LIST_LIMIT`).
    """
    if status is not None:
        check_status(status)
    if since and until and since > until:
        raise StaffError(f"since ({since}) is after until ({until})")
    if not 1 <= limit <= LIST_LIMIT:
        raise StaffError(f"limit must be between 1 and {LIST_LIMIT}")
    wanted = None
    if departments is not None:
        wanted = tuple(sorted({d.strip().lower() for d in departments if d and d.strip()}))
    zone = zoneinfo.ZoneInfo(engine.config.hours.timezone)
    start = dt.datetime.combine(since, dt.time(), zone) if since else None
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), zone) if until else None
    needle = " ".join((text or "").split())[:200] or None
    with engine.storage.reading() as tx:
        rows = tx.protocol_summaries(
            departments=wanted,
            status=status,
            created_from=start,
            created_before=end,
            text=needle,
            limit=limit,
        )
    return [ProtocolSummary(**row) for row in rows]


def protocol_detail(
    engine: Engine, protocol: str
) -> tuple[ProtocolSummary, dict[str, Any], list[ProtocolEventView]]:
    """A protocol, its answers as stored (document numbers masked; revealing them is
    :func:`civic.staff.reveal_submission`, audited) and its history, oldest first.

    Raises :class:`civic.staff.NotFound` when there is no such protocol.
    """
    number = protocol_number(protocol)
    with engine.storage.reading() as tx:
        found = tx.submission(number)
        if found is None:
            raise NotFound(f"no protocol {number!r}")
        events = tx.protocol_events(found["id"])
    summary = ProtocolSummary(**{f.name: found[f.name] for f in attrs.fields(ProtocolSummary)})
    answers = json.loads(found["data"])
    history = [
        ProtocolEventView(
            at=event["created_at"],
            actor=event["actor"],
            from_status=event["from_status"],
            to_status=event["to_status"],
            note_to_citizen=event["note_to_citizen"],
            internal_note=event["internal_note"],
        )
        for event in events
    ]
    return summary, answers, history


def _note(text: str | None, what: str) -> str | None:
    """A note as stored: trimmed, CPF-looking numbers masked; ``None`` when empty."""
    body = (text or "").strip()
    if len(body) > TEXT_LIMIT:
        raise StaffError(f"the {what} is longer than {TEXT_LIMIT} characters")
    return cpf.redact(body) or None


def set_status(
    engine: Engine,
    protocol: str,
    status: str,
    *,
    agent: str,
    note: str | None = None,
    internal_note: str | None = None,
    reopen: bool = False,
) -> None:
    """Move a protocol to ``status``, in one transaction, as ``agent``.

    :param note: for the citizen: sent to the conversation that filed the protocol (on
        its channel) and kept in the history. The citizen is also told, note or not,
        when the protocol is ``answered`` or ``closed``.
    :param internal_note: for the team only; kept in the history.
    :param reopen: allow ``answered``/``closed`` → ``in_progress``.

    Raises :class:`civic.staff.NotFound` for an unknown protocol and
    :class:`civic.staff.StaffError` for a move :func:`allowed_next` does not allow.
    """
    from civic.engine import queue

    agent = agent_name(agent)
    check_status(status)
    number = protocol_number(protocol)
    to_citizen = _note(note, "note to the citizen")
    for_team = _note(internal_note, "internal note")
    with engine.storage.transaction() as tx:
        found = tx.lock_submission(number)
        if found is None:
            raise NotFound(f"no protocol {number!r}")
        current = found["status"]
        if status == current:
            raise StaffError(f"protocol {number} is already {current}")
        allowed = allowed_next(current, reopen=reopen)
        if status not in allowed:
            if status == REOPENED and current in REOPENABLE:
                raise StaffError(f"protocol {number} is {current}; reopening it needs --reopen")
            options = ", ".join(allowed) or "none"
            raise StaffError(
                f"protocol {number} cannot go from {current} to {status} (allowed: {options})"
            )
        now = engine.clock()
        tx.ensure_agent(agent, now)
        tx.change_protocol_status(
            found["id"],
            from_status=current,
            to_status=status,
            actor=agent,
            note_to_citizen=to_citizen,
            internal_note=for_team,
            now=now,
        )
        if to_citizen or status in TOLD:
            conversation = tx.conversation(found["conversation_id"])
            assert conversation is not None  # a submission's conversation is never deleted
            reopened = status == REOPENED and current in REOPENABLE
            text = citizen_message(engine, number, status, to_citizen, reopened=reopened)
            queue(tx, conversation, [Outgoing(Reply(text), author="agent", agent=agent)], now)


def citizen_message(
    engine: Engine, protocol: str, status: str, note: str | None, *, reopened: bool = False
) -> str:
    """What the citizen is told of a change: ``protocol_status_changed`` (with the note)
    or ``protocol_status_changed_plain``; the status in words from
    ``protocol_changed_<status>`` (``protocol_changed_reopened`` when reopened)."""
    key = "protocol_changed_reopened" if reopened else f"protocol_changed_{status}"
    words = engine.texts(key) if key in engine.texts.catalog else status
    template = "protocol_status_changed" if note else "protocol_status_changed_plain"
    return engine.texts(template, protocol=protocol, status=words, note=note or "")


__all__ = [
    "STATUSES",
    "TRANSITIONS",
    "ProtocolEventView",
    "ProtocolSummary",
    "allowed_next",
    "list_protocols",
    "protocol_detail",
    "set_status",
]
