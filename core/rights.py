"""A citizen's rights over their data (LGPD, Lei 13.709/2018, art. 18): see what is held
about them, take a copy of it, and have it anonymised.

The city is the controller; its staff act on a citizen's request, by CPF:

- :func:`summary` confirms that data is held and says what (art. 18 I and II);
- :func:`export` gives everything held about the citizen as one JSON-ready value (art.
  18 II and V: access and portability), form answers decrypted;
- :func:`forget` anonymises what no law requires keeping (art. 18 IV and VI; art. 16).

Each is written to the audit table with who asked and why, so the controller can show
who handled the citizen's data (art. 37) — the audit entries themselves are kept.

**What forget keeps.** Rows are never deleted, only emptied, so reports count and score
exactly what they did before (contacts, conversations, protocols, ratings):

- the citizen's row stays as a tombstone without name or CPF in any form (the keyed
  hash is replaced by a random value, so the CPF is not recognised again);
- conversations keep their department, state, times and attendant; they lose the phone
  (address), the name given, the channel's data and the context; every message and
  outbound text becomes ``[anonimizado]``, and the channel's raw deliveries are deleted;
- protocols keep their number, department, form, status and dates, and the history of
  status changes: the city must account for the manifestations it received and the
  measures taken (Lei 13.460/2017 arts. 16 and 23), which art. 16 I of the LGPD allows
  keeping, anonymised as far as possible (art. 16 IV); their answers are emptied;
- ratings keep their score and the answers to the city's questions as statistics; the
  comment is deleted, and nothing links them to the person any more;
- staff notes (transfers, protocol changes) and audit reasons are kept with the
  citizen's names, CPF and phone replaced (best effort: a note that describes the
  citizen in other words keeps those words).

A conversation still open must be closed first (its citizen is being served). On SQLite
the database file is then rewritten (:meth:`civic.storage.Storage.compact`) so no copy
of the old values is left in free pages; backups are the city's to expire.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from civic import cpf
from civic.text import FORMAT_CLASS, normalise

if TYPE_CHECKING:
    from civic.engine import Engine
    from civic.storage import Transaction

#: What replaces a forgotten text.
PLACEHOLDER = "[anonimizado]"
#: The longest reason kept in the audit table.
REASON_LIMIT = 500
#: What may separate a CPF's digits as people type it (besides spaces and invisible marks).
_CPF_SEPARATORS = re.compile(rf"[\s.\-/,_\u2010-\u2015\u2212\uff0d\uff0e\uff0f{FORMAT_CLASS}]+")
#: Name words left alone when scrubbing notes ("da", "de"...), and words too short.
_PARTICLES = frozenset(["da", "de", "do", "das", "dos", "e", "di", "du"])
_PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]{6,}\d")


class RightsError(ValueError):
    """A request that cannot be done; the message says why, for the operator, and never
    holds a CPF in clear."""


class InvalidCpf(RightsError):
    """What was typed is not a CPF."""


class UnknownCitizen(RightsError):
    """No citizen with that CPF (never identified, or already forgotten)."""


class StillServed(RightsError):
    """The citizen has a conversation still open."""


@attrs.frozen
class Forgotten:
    """What :func:`forget` did: the citizen's id and how many rows of each kind changed."""

    citizen_id: int
    conversations: int
    messages: int
    submissions: int
    ratings: int
    deliveries: int
    #: Whether the database file was rewritten after (SQLite; see
    #: :meth:`civic.storage.Storage.compact`); ``False``: run ``VACUUM`` later.
    compacted: bool = True


def parse_cpf(typed: str) -> str:
    """The 11 digits of a CPF typed any way people type it (``529.982.247-25``,
    ``529 982 247 25``, fullwidth ``５２９…``); :class:`InvalidCpf` otherwise, saying why
    without repeating it."""
    digits = _CPF_SEPARATORS.sub("", normalise(typed or ""))
    if not digits:
        raise InvalidCpf("no CPF given")
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidCpf("a CPF holds digits only (dots, dashes and spaces are fine)")
    problem = cpf.validate(digits)
    if problem is None:
        return digits
    if problem.code == "length":
        raise InvalidCpf(f"a CPF has 11 digits, this has {len(digits)}")
    if problem.code == "repeated":
        raise InvalidCpf("a CPF never has all its digits equal")
    raise InvalidCpf(f"the CPF {cpf.mask(digits)} has a wrong check digit: is it mistyped?")


def checked_actor(by: str) -> str:
    """Who acts, as the audit table records them (a name, at most 64 characters)."""
    from civic.staff import StaffError, agent_name

    try:
        return agent_name(by)
    except StaffError as exc:
        raise RightsError(str(exc).replace("attendant's name", "name given with --by")) from None


def checked_reason(reason: str | None, *, required: bool) -> str | None:
    """The reason as audited: stripped, CPFs masked, at most :data:`REASON_LIMIT`."""
    cleaned = " ".join(normalise(reason or "").split())
    if not cleaned:
        if required:
            raise RightsError("say why (--reason): the audit records it")
        return None
    return cpf.redact(cleaned)[:REASON_LIMIT]


# -- the three requests ----------------------------------------------------------------


def summary(engine: Engine, typed_cpf: str, *, by: str, reason: str | None) -> dict[str, Any]:
    """Whether and what civic holds about the citizen (counts and protocol numbers, the
    CPF masked), audited as ``citizen_show``."""
    held = _collect(engine, typed_cpf, by=by, reason=reason, action="citizen_show")
    conversations = held["conversations"]
    return {
        "citizen": held["citizen"],
        "conversations": [
            {
                key: conversation[key]
                for key in ("id", "channel", "department", "state", "opened_at", "closed_at")
            }
            | {"messages": len(conversation["messages"])}
            for conversation in conversations
        ],
        "protocols": [
            {key: s[key] for key in ("protocol", "department", "status", "created_at")}
            for s in held["submissions"]
        ],
        "ratings": len(held["ratings"]),
        "audit_entries": len(held["audit"]),
    }


def export(engine: Engine, typed_cpf: str, *, by: str, reason: str | None) -> dict[str, Any]:
    """Everything civic holds about the citizen, JSON-ready, audited as
    ``citizen_export`` (the export's own entry is in it): the citizen (CPF masked), each
    conversation with its messages and events, protocols with their answers (decrypted)
    and status history, ratings, and the audit of who saw their data."""
    return _collect(engine, typed_cpf, by=by, reason=reason, action="citizen_export")


def forget(engine: Engine, typed_cpf: str, *, by: str, reason: str | None) -> Forgotten:
    """Anonymise the citizen as the module's docstring says, in one transaction,
    audited as ``citizen_forget``; :class:`StillServed` while a conversation is open."""
    from civic import storage

    digits = parse_cpf(typed_cpf)
    actor = checked_actor(by)
    why = checked_reason(reason, required=True)
    with engine.storage.transaction() as tx:
        citizen = _citizen(engine, tx, digits)
        ids = storage.citizen_conversation_ids(tx, citizen["id"])
        conversations = storage.rows_where_in(tx, "conversation", "id", ids)
        still_open = [c["id"] for c in conversations if c["closed_at"] is None]
        if still_open:
            listed = ", ".join(map(str, still_open))
            raise StillServed(
                f"citizen {citizen['id']} has conversation(s) {listed} still open: close them "
                "first (civic conversations close, or wait for them to expire)"
            )
        submissions = storage.rows_where_in(tx, "submission", "conversation_id", ids)
        names = [citizen["name"], *(c["citizen_name"] for c in conversations)]
        names += [s["citizen_name"] for s in submissions]
        addresses = {(c["channel"], c["address"]) for c in conversations}
        phones = [address for _channel, address in addresses]
        phones += [_channel_phone(c["channel_data"]) for c in conversations]
        scrub = scrubber(names, digits, phones)
        protocols = [s["protocol"] for s in submissions]
        audits = storage.audits_about(tx, citizen["id"], ids, protocols)
        storage.scrub_audits(tx, [a["id"] for a in audits], scrub)
        counts = storage.anonymise_conversations(tx, ids, placeholder=PLACEHOLDER, scrub=scrub)
        deliveries = storage.delete_deliveries_from(tx, addresses)
        storage.anonymise_citizen(
            tx, citizen["id"], token=secrets.token_hex(16), placeholder=PLACEHOLDER
        )
        tx.add_audit(
            actor=actor,
            action="citizen_forget",
            target=f"citizen:{citizen['id']}",
            conversation_id=None,
            reason=scrub(why) if why else None,
            now=engine.clock(),
        )
    compacted = engine.storage.compact()
    return Forgotten(
        citizen_id=citizen["id"],
        conversations=counts.get("conversations", 0),
        messages=counts.get("messages", 0),
        submissions=counts.get("submissions", 0),
        ratings=counts.get("ratings", 0),
        deliveries=deliveries,
        compacted=compacted,
    )


# -- reading what is held ----------------------------------------------------------------


def _citizen(engine: Engine, tx: Transaction, digits: str) -> Mapping[str, Any]:
    """The citizen with this CPF, found by its keyed hash; :class:`UnknownCitizen`."""
    from civic import storage

    found = storage.citizen_by_hash(tx, cpf.keyed_hash(digits, engine.secret))
    if found is None:
        raise UnknownCitizen(f"no citizen with the CPF {cpf.mask(digits)}")
    return found


def _collect(
    engine: Engine, typed_cpf: str, *, by: str, reason: str | None, action: str
) -> dict[str, Any]:
    """Audit ``action`` and read everything about the citizen, in one transaction."""
    from civic import storage

    digits = parse_cpf(typed_cpf)
    actor = checked_actor(by)
    why = checked_reason(reason, required=action != "citizen_show")
    with engine.storage.transaction() as tx:
        citizen = _citizen(engine, tx, digits)
        tx.add_audit(
            actor=actor,
            action=action,
            target=f"citizen:{citizen['id']}",
            conversation_id=None,
            reason=why,
            now=engine.clock(),
        )
        ids = storage.citizen_conversation_ids(tx, citizen["id"])
        conversations = storage.rows_where_in(tx, "conversation", "id", ids)
        messages = storage.rows_where_in(tx, "message", "conversation_id", ids)
        events = storage.rows_where_in(tx, "event", "conversation_id", ids)
        submissions = storage.rows_where_in(tx, "submission", "conversation_id", ids)
        history = storage.rows_where_in(
            tx, "protocol_event", "submission_id", [s["id"] for s in submissions]
        )
        ratings = storage.rows_where_in(tx, "rating", "conversation_id", ids)
        protocols = [s["protocol"] for s in submissions]
        audits = storage.audits_about(tx, citizen["id"], ids, protocols)
    return {
        "exported_at": _iso(engine.clock()),
        "controller": engine.config.privacy.controller or engine.config.city,
        "citizen": {
            "id": citizen["id"],
            "name": citizen["name"],
            "cpf": citizen["cpf_masked"],
            "created_at": _iso(citizen["created_at"]),
            "last_seen_at": _iso(citizen["last_seen_at"]),
        },
        "conversations": [_conversation(c, messages, events) for c in conversations],
        "submissions": [_submission(engine, s, history) for s in submissions],
        "ratings": [
            {
                "conversation": r["conversation_id"],
                "department": r["department"],
                "agent": r["agent"],
                "score": r["score"],
                "scale": [r["scale_min"], r["scale_max"]],
                "comment": r["comment"],
                "answers": _json(r["answers"]),
                "at": _iso(r["created_at"]),
            }
            for r in ratings
        ],
        "audit": [
            {
                "at": _iso(a["created_at"]),
                "actor": a["actor"],
                "action": a["action"],
                "target": a["target"],
                "conversation": a["conversation_id"],
                "reason": a["reason"],
            }
            for a in audits
        ],
    }


def _conversation(
    row: Mapping[str, Any],
    messages: Iterable[Mapping[str, Any]],
    events: Iterable[Mapping[str, Any]],
) -> dict[str, Any]:
    return {
        "id": row["id"],
        "channel": row["channel"],
        "address": row["address"],
        "name_given": row["citizen_name"],
        "department": row["department"],
        "state": row["state"],
        "agent": row["agent"],
        "opened_at": _iso(row["opened_at"]),
        "closed_at": _iso(row["closed_at"]),
        "close_reason": row["close_reason"],
        "messages": [
            {
                "at": _iso(m["created_at"]),
                "direction": m["direction"],
                "author": m["author"],
                "agent": m["author_name"],
                "text": m["text"],
            }
            for m in messages
            if m["conversation_id"] == row["id"]
        ],
        "events": [
            {
                "at": _iso(e["created_at"]),
                "kind": e["kind"],
                "actor": e["actor"],
                "department": e["department"],
                "note": e["note"],
            }
            for e in events
            if e["conversation_id"] == row["id"]
        ],
    }


def _submission(
    engine: Engine, row: Mapping[str, Any], history: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    from civic.crypto import DecryptionError

    answers = _json(row["data"])
    if row["secret_data"]:
        try:
            answers.update(engine.vault.decrypt_json(row["secret_data"]))
        except DecryptionError as exc:
            raise RightsError(str(exc)) from None
    return {
        "protocol": row["protocol"],
        "department": row["department"],
        "form": row["form"],
        "status": row["status"],
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
        "answers": answers,
        "history": [
            {
                "at": _iso(h["created_at"]),
                "actor": h["actor"],
                "from": h["from_status"],
                "to": h["to_status"],
                "note_to_citizen": h["note_to_citizen"],
            }
            for h in history
            if h["submission_id"] == row["id"]
        ],
    }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _channel_phone(channel_data: str | None) -> str:
    phone = _json(channel_data).get("phone")
    return str(phone) if phone else ""


# -- scrubbing staff notes ---------------------------------------------------------------


def scrubber(
    names: Iterable[str | None], digits: str, phones: Iterable[str]
) -> Callable[[str], str]:
    """A function that replaces, in a staff-written text, the citizen's names (whole, and
    each word of three letters or more), any CPF-looking number (their ``digits`` among
    them) and their phone numbers (however grouped, with or without the country code)."""
    words: set[str] = set()
    for name in names:
        if not name or name == PLACEHOLDER:
            continue
        words.add(name.strip())
        words.update(w for w in name.split() if len(w) >= 3 and w.lower() not in _PARTICLES)
    ordered = sorted((w for w in words if w), key=len, reverse=True)
    pattern = (
        re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, ordered)) + r")(?!\w)", re.IGNORECASE)
        if ordered
        else None
    )
    phone_digits = {
        p for p in (re.sub(r"\D", "", normalise(x or "")) for x in phones) if len(p) >= 8
    }

    def phone(match: re.Match[str]) -> str:
        found = re.sub(r"\D", "", match.group())
        mine = len(found) >= 8 and any(p.endswith(found) or found.endswith(p) for p in phone_digits)
        return PLACEHOLDER if mine else match.group()

    def scrub(text: str) -> str:
        text = normalise(text)
        found = cpf.candidates(text)
        pieces, position = [], 0
        for candidate in found:
            start, end = candidate.span
            pieces += [text[position:start], PLACEHOLDER]
            position = end
        pieces.append(text[position:])
        text = "".join(pieces)
        if digits in text:
            text = text.replace(digits, PLACEHOLDER)
        text = _PHONE_LIKE.sub(phone, text) if phone_digits else text
        return pattern.sub(PLACEHOLDER, text) if pattern else text

    return scrub
