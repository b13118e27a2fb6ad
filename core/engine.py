"""The conversation engine: one inbound message in, replies out, in one transaction.

A channel (the terminal, WhatsApp, the web chat) is an adapter: it turns what it receives
into :class:`~civic.values.Inbound`, and delivers what the engine put in the **outbox**.
Everything the engine knows about a conversation is in the database, so any worker can
take the next message and a restarted process resumes where it stopped.

The order of work for one message:

1. the message is read once (:func:`civic.reading.read`), before any lock is taken;
2. in one transaction: the inbound is stored (or recognised as a duplicate), a
   :class:`~civic.turn.Turn` moves the conversation on, and every reply is stored in the
   message log and in the outbox, pointing at the inbound it answers;
3. after the commit, the notifying hooks run, one implementation at a time
   (:func:`civic.plugins.notify`); nothing that fails there undoes the message.

A duplicate delivery (the same channel message id) changes nothing and returns the
replies stored the first time, so a channel that crashed before sending them can send
them now. The staff side (take, reply, transfer, release, close) is :mod:`civic.staff`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pluggy
import sqlalchemy as sa

from civic import cpf, departments, rate_limit
from civic.config import Config, ConfigError, settings_problems
from civic.crypto import Vault, load_vault
from civic.forms import FormRunner, build_format_checker
from civic.plugins import load_plugins, notify
from civic.reading import Reading, read
from civic.states import State
from civic.storage import Conflict, Row, Storage, Transaction, to_storage_time, utcnow
from civic.texts import Texts, catalogue_packages, override_problems
from civic.turn import Happening, Notice, Outgoing, Turn
from civic.values import Choice, Conversation, Delivery, Inbound, Media, Outcome, Reply

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]

#: A "thanks" within this time of closing is answered without opening a conversation.
AFTER_CLOSE = dt.timedelta(hours=12)
#: The longest channel name, address and channel message id (the same on every database).
LIMITS = {"channel": 32, "address": 128, "channel_message_id": 128}
#: What no channel field may hold: control characters and lone surrogates.
CONTROL_OR_SURROGATE = re.compile("[\x00-\x1f\ud800-\udfff]")


class _Duplicate(Exception):
    """The inbound message was delivered before: the transaction is rolled back and the
    replies stored the first time are given again."""


class InvalidInbound(ValueError):
    """An inbound message a channel should not have sent (unknown department, an
    address too long...); the message says what is wrong."""


def city_texts(config: Config, pm: pluggy.PluginManager, registry: departments.Registry) -> Texts:
    """The city's texts: the core's and plugins' catalogues, the departments' own texts,
    the city's ``[texts]`` (raises :class:`ConfigError` on an override that cannot be
    used)."""
    packages = catalogue_packages(pm)
    derived = departments.department_texts(registry)
    problems = override_problems(config.texts, config.locale, packages, derived)
    if problems:
        raise ConfigError([f"texts.{problem}" for problem in problems])
    return Texts(config.locale, config.texts, packages, derived)


def check_settings(config: Config, registry: departments.Registry) -> None:
    """Raise :class:`ConfigError` when ``enabled`` would leave citizens unserved
    (:func:`civic.departments.enabled_problems`) or an enabled department's section of
    the city's configuration does not fit its plugin's ``settings_schema`` (one ``file:
    key: reason`` line per problem)."""
    problems = departments.enabled_problems(
        config.departments, registry, config.source or "civic.toml"
    )
    problems += settings_problems(config, {d.slug: d.settings_schema for d in registry})
    if problems:
        raise ConfigError(problems)


class Engine:
    """Processes inbound messages and staff actions. Build one per process and reuse it."""

    def __init__(
        self,
        storage: Storage,
        *,
        secret: bytes,
        config: Config | None = None,
        manager: pluggy.PluginManager | None = None,
        clock: Clock | None = None,
        vault: Vault | None = None,
    ) -> None:
        self.storage = storage
        self.secret = secret
        self.config = config or Config()
        self.pm = manager or load_plugins()
        self.clock = clock or utcnow
        self.vault = vault or load_vault()
        checker = build_format_checker(self.pm)
        self.registry = departments.collect(
            self.pm, self.config.departments, frozenset(checker.checkers)
        )
        check_settings(self.config, self.registry)
        self.texts = city_texts(self.config, self.pm, self.registry)
        self.registry.departments = [
            departments.localise(department, self.texts) for department in self.registry
        ]
        self.forms: dict[tuple[str, str], FormRunner] = {
            (department.slug, name): FormRunner(
                name,
                schema,
                self.texts,
                checker,
                max_failures=self.config.form_max_failures,
                warnings=department.form_warnings.get(name),
            )
            for department in self.registry
            for name, schema in department.forms.items()
        }
        questions = self.config.survey.questions
        self.survey_form = (
            FormRunner("survey", questions, self.texts, checker, confirm=False, humans=False)
            if questions
            else None
        )
        words = self.texts.words
        #: Said after a conversation closed, these are answered but open no new one.
        self.after_close_words = words("thanks") | words("close") | words("after_close")
        self.identifies = bool(self.pm.hook.identify_citizen.get_hookimpls())

    # -- texts the engine composes ----------------------------------------------------
    def privacy_notice(self) -> str:
        """The short privacy notice of a citizen's first message (the city's words, LGPD
        art. 9), with a link to the record of processing operations (art. 37) when the
        city published it (``[privacy] register_url``)."""
        privacy = self.config.privacy
        notice = self.texts(
            "privacy_notice",
            controller=privacy.controller or self.config.city,
            purpose=privacy.purpose or self.texts("privacy_purpose_default"),
            contact=privacy.contact or self.texts("privacy_contact_default"),
            policy=privacy.policy_url or self.texts("privacy_policy_default"),
        )
        if privacy.register_url:
            notice += " " + self.texts("privacy_register", register=privacy.register_url)
        return notice

    # -- inbound messages ---------------------------------------------------------------
    def handle(self, inbound: Inbound) -> Outcome:
        """Process one inbound message in one transaction and return its replies.

        A message whose ``channel_message_id`` was already processed changes nothing and
        returns the replies stored the first time, with ``duplicate=True``.
        """
        self.check(inbound)
        reading = read(inbound.text)  # linear, and before any lock is taken
        now = to_storage_time(inbound.received_at) if inbound.received_at else self.clock()
        for attempt in range(3):
            try:
                outcome, notices = self._handle_once(inbound, reading, now)
            except _Duplicate:
                replayed = self._replay(inbound)
                if replayed is None:  # the first delivery vanished (forgotten): again
                    if attempt == 2:
                        raise Conflict("a delivered message vanished twice") from None
                    continue
                return replayed
            except Conflict:
                # Another worker took the same message id, or opened this address's
                # conversation first. Look again in a fresh transaction.
                if attempt == 2:
                    raise
                continue
            except sa.exc.DBAPIError as exc:
                # A pooled connection the database had closed (a restart): nothing was
                # committed, and the pool gives a new connection to the next attempt.
                if not exc.connection_invalidated or attempt == 2:
                    raise
                continue
            self.notify(notices, outcome.conversation_id)
            return outcome
        raise AssertionError("unreachable")

    def check(self, inbound: Inbound) -> None:
        """Refuse what no database would store the same way, with one clear error."""
        if inbound.pinned_department and not self.registry.get(inbound.pinned_department):
            raise InvalidInbound(f"unknown department {inbound.pinned_department!r}")
        for field, limit in LIMITS.items():
            value = getattr(inbound, field)
            if value is None:
                continue
            if not isinstance(value, str) or not value.strip():
                raise InvalidInbound(f"{field} must be a non-empty string")
            if len(value) > limit:
                raise InvalidInbound(f"{field} is longer than {limit} characters")
            if CONTROL_OR_SURROGATE.search(value):
                raise InvalidInbound(f"{field} holds control or surrogate characters")

    def _handle_once(
        self, inbound: Inbound, reading: Reading, now: dt.datetime
    ) -> tuple[Outcome, list[tuple[str, dict[str, Any]]]]:
        with self.storage.transaction() as tx:
            row = tx.open_conversation(inbound.channel, inbound.address)
            if row is None and reading.folded in self.after_close_words:
                closed = self._after_close(tx, inbound, reading, now)
                if closed is not None:
                    return closed, []
            opened = row is None
            first_contact = False
            if row is None:
                first_contact = tx.last_conversation(inbound.channel, inbound.address) is None
                conversation_id = tx.create_conversation(
                    channel=inbound.channel,
                    address=inbound.address,
                    state=self.first_state(inbound).value,
                    pinned_department=inbound.pinned_department,
                    now=now,
                )
                row = tx.conversation(conversation_id)
                assert row is not None
            message_id = tx.add_inbound(
                conversation_id=row["id"],
                text=stored_text(reading, inbound),  # a CPF only hashed, encrypted, masked
                channel=inbound.channel,
                channel_message_id=inbound.channel_message_id,
                created_at=now,
            )
            if message_id is None:  # delivered before: undo what was begun, replay
                raise _Duplicate
            flood = rate_limit.flood(tx, self.config.limits.messages_per_minute, row["id"], now)
            if flood is None:
                turn = self._turn(
                    tx, row, reading, now, opened=opened, first_contact=first_contact,
                    media=inbound.media,
                )  # fmt: skip
            else:  # stored, but not processed: the flood is answered once
                turn = Turn(self, tx, row, reading, now)
                if flood.first:
                    log.warning("conversation %s: a flood of messages, not processed", row["id"])
                    turn.say(self.texts("rate_limited"))
            values = turn.values()
            if inbound.channel_data is not None:
                values["channel_data"] = merged_channel_data(row, inbound.channel_data, now)
            # only what changed: fewer index pages written
            tx.update_conversation(row["id"], **changed(row, values))
            record_happenings(tx, row["id"], turn.happenings, now)
            deliveries = queue(tx, row, turn.outgoing, now, in_reply_to=message_id)
            snapshot = turn.snapshot()
        notices = [(n.hook, {**n.kwargs}) for n in turn.notices]
        if opened:
            notices.insert(0, ("conversation_opened", {}))
        if turn.state is State.CLOSED:
            notices.append(("conversation_closed", {}))
        outcome = Outcome(
            conversation_id=snapshot.id,
            state=turn.state.value,
            department=turn.department,
            replies=tuple(d.reply for d in deliveries),
            deliveries=deliveries,
        )
        return outcome, [(hook, {"conversation": snapshot, **kw}) for hook, kw in notices]

    def _turn(
        self,
        tx: Transaction,
        row: Row,
        reading: Reading,
        now: dt.datetime,
        *,
        opened: bool,
        first_contact: bool,
        media: Media | None = None,
    ) -> Turn:
        """Run the turn in a savepoint: if anything in it fails, the conversation stays
        where it was, the message is still stored and the citizen gets an apology."""
        turn = Turn(self, tx, row, reading, now)
        turn.media = media
        try:
            with tx.savepoint(lazy=True):  # taken only if the turn writes
                turn.process(opened=opened, first_contact=first_contact)
        except sa.exc.DBAPIError:
            raise  # the database itself: the channel must retry the message
        except Exception:
            if tx.conn.invalidated:  # the connection was lost on the way: retry it all
                raise
            log.exception("conversation %s: the turn failed; the message is kept", row["id"])
            turn = Turn(self, tx, row, reading, now)
            turn.say(self.texts("plugin_failed"))
            return turn
        if reading.truncated:
            turn.say(self.texts("message_truncated"))
        return turn

    def first_state(self, inbound: Inbound) -> State:
        """Where a new conversation starts: identifying, unless the city asks for the CPF
        only where a department needs it (or no plugin identifies)."""
        if self.identifies and self.config.identify == "first":
            return State.IDENTIFYING
        return State.CHOOSING if len(self.registry) != 1 else State.DEPARTMENT

    def _replay(self, inbound: Inbound) -> Outcome | None:
        """The outcome of a message processed before: the replies stored then (``None``
        if it cannot be found). A message id another address used is refused: its
        replies are not this sender's."""
        assert inbound.channel_message_id is not None
        with self.storage.reading() as tx:
            message_id = tx.inbound_message_id(inbound.channel, inbound.channel_message_id)
            if message_id is None:
                return None
            row = tx.conversation(tx.message_conversation(message_id))
            deliveries = tuple(tx.outbox_for(message_id))
        if row is not None and row["address"] != inbound.address:
            raise InvalidInbound(
                f"channel message id {inbound.channel_message_id!r} was already used by "
                "another address"
            )
        return Outcome(
            conversation_id=row["id"] if row else None,
            state=row["state"] if row else "",
            department=row["department"] if row else None,
            replies=tuple(d.reply for d in deliveries),
            duplicate=True,
            deliveries=deliveries,
        )

    def _after_close(
        self, tx: Transaction, inbound: Inbound, reading: Reading, now: dt.datetime
    ) -> Outcome | None:
        """A "thanks" or "bye" right after closing: kept with the closed conversation and
        answered, instead of opening a new conversation nobody wanted."""
        last = tx.last_conversation(inbound.channel, inbound.address)
        if last is None or last["closed_at"] is None or now - last["closed_at"] > AFTER_CLOSE:
            return None
        message_id = tx.add_inbound(
            conversation_id=last["id"],
            text=reading.redacted,
            channel=inbound.channel,
            channel_message_id=inbound.channel_message_id,
            created_at=now,
        )
        if message_id is None:
            raise _Duplicate
        flood = rate_limit.flood(tx, self.config.limits.messages_per_minute, last["id"], now)
        said = [Outgoing(Reply(self.texts("rate_limited" if flood else "after_close")))]
        deliveries = queue(
            tx, last, said if not flood or flood.first else [], now, in_reply_to=message_id
        )
        return Outcome(
            last["id"],
            State.CLOSED.value,
            last["department"],
            tuple(d.reply for d in deliveries),
            deliveries=deliveries,
        )

    # -- after the commit -------------------------------------------------------------
    def notify(self, notices: Iterable[tuple[str, Mapping[str, Any]]], where: Any = None) -> None:
        """Call notifying hooks after a commit: each implementation once, a failing one
        logged with its plugin's name; nothing here can undo the committed work."""
        for hook, kwargs in notices:
            try:
                notify(hook, self.pm, **kwargs)
            except Exception:  # never turn a processed message into an error
                log.exception("notifying %s failed (conversation %s)", hook, where)

    # -- the outbox ---------------------------------------------------------------------
    def pending(self, channel: str, address: str | None = None) -> list[Delivery]:
        """Messages waiting to be delivered on ``channel`` (to ``address``), oldest first."""
        with self.storage.reading() as tx:
            return tx.pending_outbox(channel, address)

    def mark(self, ids: Iterable[int], status: str, **details: Any) -> None:
        """Move outbox messages forward to ``status`` (``sent``, ``delivered``, ``read``,
        ``failed``); a status never moves backwards."""
        ids = list(ids)
        if ids:
            with self.storage.transaction() as tx:
                tx.advance_outbox(ids, status, self.clock(), **details)

    @staticmethod
    def render(reply: Reply) -> str:
        """A reply as plain text, its choices as numbered lines (as stored and as sent
        to channels without buttons)."""
        return render(reply)

    def conversation(self, conversation_id: int) -> Conversation | None:
        """A snapshot of one conversation (``None`` when there is none)."""
        with self.storage.reading() as tx:
            row = tx.conversation(conversation_id)
        return snapshot(row) if row else None


def stored_text(reading: Reading, inbound: Inbound) -> str:
    """The message as the log keeps it: the text (CPFs masked), and what else was sent."""
    if inbound.media is None:
        return reading.redacted
    note = f"[{inbound.media.kind}{' ' + inbound.media.id if inbound.media.id else ''}]"
    return f"{note} {reading.redacted}".strip()


def changed(row: Row, values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``values`` that differ from the ``row``'s."""
    return {key: value for key, value in values.items() if key not in row or row[key] != value}


def merged_channel_data(row: Row, data: Mapping[str, Any], now: dt.datetime) -> str:
    """The conversation's channel data with this message's, and its time (a channel's
    reply window counts from the citizen's last message)."""
    try:
        current = json.loads(row["channel_data"] or "{}")
    except (TypeError, ValueError):
        current = {}
    if not isinstance(current, dict):
        current = {}
    current.update({k: v for k, v in data.items() if v is not None})
    current["last_inbound_at"] = now.isoformat()
    return json.dumps(current, ensure_ascii=False)


def render(reply: Reply) -> str:
    """A reply as plain text, its choices as numbered lines."""
    lines = [reply.text] if reply.text else []
    lines += [f"{choice.value}. {choice.label}" for choice in reply.choices]
    return "\n".join(lines)


def snapshot(row: Row) -> Conversation:
    """The plugin-facing value of a conversation row."""
    return Conversation(
        id=row["id"],
        channel=row["channel"],
        address=row["address"],
        state=row["state"],
        department=row["department"],
        pinned_department=row["pinned_department"],
        citizen_id=row["citizen_id"],
        citizen_name=row["citizen_name"],
        opened_at=row["opened_at"],
        context={},
        agent=row["agent"],
    )


def redacted(reply: Reply) -> Reply:
    """The reply with every CPF-looking number masked, as it is stored and sent (but
    the sample :data:`civic.cpf.EXAMPLE` of the identification prompt)."""
    keep = frozenset({cpf.EXAMPLE})
    return Reply(
        text=cpf.redact(reply.text, keep=keep),
        choices=tuple(Choice(c.value, cpf.redact(c.label, keep=keep)) for c in reply.choices),
        scale=reply.scale,
    )


def queue(
    tx: Transaction,
    row: Row,
    outgoing: Iterable[Outgoing],
    now: dt.datetime,
    *,
    in_reply_to: int | None = None,
) -> tuple[Delivery, ...]:
    """Store each outgoing message in the log and in the outbox (pending)."""
    deliveries = []
    for item in outgoing:
        reply = redacted(item.reply)
        payload: dict[str, Any] = {
            "text": reply.text,
            "choices": [[c.value, c.label] for c in reply.choices],
        }
        if reply.scale is not None:
            payload["scale"] = list(reply.scale)
        _message_id, outbox_id = tx.add_reply(
            conversation_id=row["id"],
            in_reply_to=in_reply_to,
            channel=row["channel"],
            address=row["address"],
            author=item.author,
            agent=item.agent,
            text=render(reply),
            payload=json.dumps(payload, ensure_ascii=False),
            now=now,
        )
        deliveries.append(Delivery(outbox_id, reply, item.author, item.agent, "pending", row["id"]))
    return tuple(deliveries)


def record_happenings(
    tx: Transaction, conversation_id: int, happenings: Iterable[Happening], now: dt.datetime
) -> None:
    for happening in happenings:
        tx.add_event(
            conversation_id=conversation_id,
            kind=happening.kind,
            actor=happening.actor,
            department=happening.department,
            note=happening.note,
            now=now,
        )


__all__ = ["Engine", "InvalidInbound", "Notice", "queue", "render", "snapshot"]
