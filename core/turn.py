"""The bot's side of a conversation: what one citizen message does.

A :class:`Turn` is built by the engine inside the message's transaction, reads the
message once (a :class:`~civic.reading.Reading`), moves the conversation through the
state machine of :mod:`civic.states`, and collects what to say (:class:`Outgoing`), what
to record (:class:`Happening`) and which hooks to call after the commit
(:class:`Notice`). It never commits and never calls a notifying hook itself.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
import zoneinfo
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from civic import cpf, plugins, protocol_numbers, request
from civic.context import Context, FormProgress, SurveyProgress
from civic.crypto import DecryptionError
from civic.default_plugins import routing
from civic.default_plugins.protocols import protocol_number as default_protocol_number
from civic.default_plugins.topics import match_topic
from civic.durations import durations
from civic.forms import FormStep
from civic.plugins import PluginFailed, call_first, call_safely
from civic.reading import Reading, read
from civic.states import TRANSITIONS, WITH_TEAM, State, check_transition
from civic.text import REQUEST_WORDS, contains_keyword, fold
from civic.values import (
    Answer,
    Choice,
    Conversation,
    Department,
    HandOver,
    Identity,
    Media,
    NotIdentified,
    Reply,
    StartForm,
)
from civic.when import date_text, hour_text
from civic.words import (
    GLOBAL_WORDS,
    wants_person,
)

if TYPE_CHECKING:
    from civic.engine import Engine
    from civic.storage import Row, Transaction

log = logging.getLogger(__name__)

#: A protocol number as civic's default plugin writes them: ``PROCON-2026-000123``. Only
#: used to name a number that is not stored ("Não encontrei o protocolo ..."): stored
#: numbers, whatever their shape, are found by :mod:`civic.protocol_numbers`.
PROTOCOL = re.compile(
    r"\b(?P<prefix>[A-Z][A-Z0-9_]{1,31})[\s-]+(?P<year>\d{4})[\s-]+(?P<sequence>\d{4,})\b"
)
#: A word shaped like some plugin's protocol number: letters and digits joined by ``-``,
#: ``/``, ``.`` or ``_`` (``OUV/2026/9``, ``2026.0009-OUV``).
SHAPED_PROTOCOL = re.compile(
    r"(?<![\w./-])(?=[\w./-]*[A-Za-z])(?=[\w./-]*\d)[A-Za-z0-9]+(?:[./_-]+[A-Za-z0-9]+)+"
)
#: Folded words (or their beginnings) that make a message a question about a protocol.
PROTOCOL_ASKING = ("protocolo", "status", "situa", "andamento")
#: Most words of a message that is just a protocol number ("OUV 2026 7").
PROTOCOL_ALONE_WORDS = 4
#: How many numbers the ``protocol_number`` hook may give for one submission that cannot
#: be stored (taken already) before civic numbers it in its default format.
PROTOCOL_ATTEMPTS = 3


@attrs.frozen
class Outgoing:
    """A message to the citizen and who wrote it (``bot``, ``agent`` or ``system``)."""

    reply: Reply
    author: str = "bot"
    agent: str | None = None


@attrs.frozen
class Happening:
    """An event to record with the conversation (hand-over, take, transfer...)."""

    kind: str
    actor: str
    department: str | None = None
    note: str | None = None


@attrs.frozen
class Notice:
    """A hook to call once the transaction has committed."""

    hook: str
    kwargs: Mapping[str, Any]


def when(moment: dt.datetime) -> str:
    """``30/11/2026 às 8h`` in the moment's own time zone."""
    return f"{date_text(moment.date())} às {hour_text(moment.time())}"


def looks_like_a_name(reading: Reading) -> bool:
    """Whether a message could be just the citizen's name (kept while the CPF is asked)."""
    words = reading.words
    return (
        1 <= len(words) <= 8
        and all(word.isalpha() for word in words)
        and not REQUEST_WORDS & set(words)
        and sum(map(len, words)) >= 3
    )


def same_name(first: str, second: str) -> bool:
    """Whether two typed names are the same person's (case, accents and spacing aside)."""
    from civic.text import fold

    return fold(first) == fold(second)


class Stop(Exception):
    """Ends a turn's handling early: a plugin failed and the citizen has been told."""


class Turn:
    """The work on one conversation for one citizen message."""

    def __init__(
        self,
        engine: Engine,
        tx: Transaction,
        row: Row,
        reading: Reading,
        now: dt.datetime,
    ) -> None:
        self.engine = engine
        self.texts = engine.texts
        self.tx = tx
        self.row = row
        self.reading = reading
        self.now = now
        self.state = State(row["state"])
        self.department: str | None = row["department"]
        self.context = Context.load(row["context"])
        self.unseal()
        self.citizen_id: int | None = row["citizen_id"]
        self.citizen_name: str | None = row["citizen_name"]
        self.outgoing: list[Outgoing] = []
        self.happenings: list[Happening] = []
        self.notices: list[Notice] = []
        self.changes: dict[str, Any] = {}
        self.opened = False
        self.media: Media | None = None

    # -- bookkeeping ----------------------------------------------------------------
    def move(self, state: State) -> None:
        check_transition(self.state, state)
        self.state = state

    def say(self, text: str, choices: tuple[Choice, ...] = ()) -> None:
        if text or choices:
            self.outgoing.append(Outgoing(Reply(text=text, choices=choices)))

    def happened(self, kind: str, note: str | None = None) -> None:
        """Record an event of the conversation and call its hook after the commit."""
        self.happenings.append(Happening(kind, "bot", self.department, note))

    def snapshot(self) -> Conversation:
        return Conversation(
            id=self.row["id"],
            channel=self.row["channel"],
            address=self.row["address"],
            state=self.state.value,
            department=self.department,
            pinned_department=self.row["pinned_department"],
            citizen_id=self.citizen_id,
            citizen_name=self.citizen_name,
            opened_at=self.row["opened_at"],
            context={"protocols": list(self.context.protocols)},
            agent=self.changes.get("agent", self.row["agent"]),
        )

    def unseal(self) -> None:
        """Open the answers a form sealed because they held a document number."""
        for form in (self.context.form, self.context.held_form):
            sealed = form.progress.get("sealed") if form is not None else None
            if form is None or not isinstance(sealed, str):
                continue
            try:
                form.progress = self.engine.vault.decrypt_json(sealed)
            except Exception:  # a key rotated away: the answers so far are lost
                log.warning("conversation %s: sealed form answers unreadable", self.row["id"])
                form.progress = {}

    def sealed_context(self) -> str:
        """The context as stored: a form's answers that hold a CPF-looking number are
        encrypted; the answers held for an attendant keep a masked copy to show."""
        originals = []
        for form in (self.context.form, self.context.held_form):
            if form is None:
                continue
            originals.append((form, form.progress))
            text = json.dumps(form.progress, ensure_ascii=False)
            if cpf.redact(text) == text:
                continue
            sealed: dict[str, Any] = {"sealed": self.engine.vault.encrypt_json(form.progress)}
            if form is self.context.held_form:
                answers = form.progress.get("answers")
                if isinstance(answers, dict):
                    sealed["answers"] = {
                        k: cpf.redact(v) if isinstance(v, str) else v for k, v in answers.items()
                    }
            form.progress = sealed
        try:
            return self.context.dump()
        finally:
            for form, progress in originals:
                form.progress = progress

    def values(self) -> dict[str, Any]:
        """The conversation row's new values."""
        values: dict[str, Any] = {
            "state": self.state.value,
            "department": self.department,
            "context": self.sealed_context(),
            "citizen_id": self.citizen_id,
            "citizen_name": self.citizen_name,
            "updated_at": self.now,
            "last_citizen_at": self.now,
            **self.changes,
        }
        if self.outgoing and self.row["first_response_at"] is None:
            values["first_response_at"] = self.now
        if self.state is State.CLOSED:
            values["closed_at"] = self.now
            values.setdefault("close_reason", "completed")
        values.update(durations(self.row, values))
        return values

    def local(self, moment: dt.datetime) -> dt.datetime:
        """``moment`` in the city's time zone."""
        return moment.astimezone(zoneinfo.ZoneInfo(self.engine.config.hours.timezone))

    @property
    def current(self) -> Department | None:
        return self.engine.registry.get(self.department)

    @property
    def identified(self) -> bool:
        return self.citizen_id is not None or self.context.identified

    def needs_identity(self, department: Department | None = None) -> bool:
        """Whether the citizen must identify before going on (to ``department``)."""
        if self.identified or not self.engine.identifies:
            return False
        if department is not None and not department.identification:
            return False
        return department is not None or self.engine.config.identify == "first"

    def call(self, hook: str, **kwargs: Any) -> Any:
        """Call a hook within :data:`~civic.plugins.TIME_LIMIT`; a plugin failure (it
        raised, hung or answered garbage, and no other plugin answered) becomes an
        apology and a hand-over to the team (:meth:`plugin_trouble`), never a crash."""
        try:
            return call_safely(hook, self.engine.pm, time_limit=plugins.TIME_LIMIT, **kwargs)
        except PluginFailed:
            self.plugin_trouble()
            raise Stop from None

    def plugin_trouble(self) -> None:
        """A plugin failed this citizen: apologise and flag the conversation for a
        person (the team's queue), keeping a form in progress for the attendant."""
        if self.state in WITH_TEAM or State.HUMAN not in TRANSITIONS[self.state]:
            self.say(self.texts("plugin_failed"))
            return
        if self.context.form is not None:
            self.context.held_form = self.context.form  # the attendant sees the answers
            self.context.form = None
        self.to_human(self.texts("plugin_failed_handed_over"))

    # -- dispatch -------------------------------------------------------------------
    def process(self, *, opened: bool, first_contact: bool) -> None:
        """Handle the message in the conversation's state."""
        try:
            self.dispatch(opened=opened, first_contact=first_contact)
        except Stop:  # a plugin failed: the citizen was told, the team has the conversation
            return

    def dispatch(self, *, opened: bool, first_contact: bool) -> None:
        self.opened = opened
        if opened:
            self.greet(first_contact)
        if not self.reading.text.strip():
            if self.media is not None and self.state not in WITH_TEAM:
                # Stored for the team (with its media id); the bot reads only text.
                self.say(self.texts("media_not_read", kind=self.media_name()))
            elif not opened and self.state not in WITH_TEAM:
                self.say(self.texts("empty_message"))
            return
        command = self.global_command()
        if command is not None:
            getattr(self, f"command_{command}")()
            return
        handler = {
            State.IDENTIFYING: self.identify,
            State.CHOOSING: self.choose,
            State.DEPARTMENT: self.in_department,
            State.FORM: self.fill_form,
            State.HUMAN: self.with_team,
            State.AGENT: self.with_team,
            State.OFFERING: self.offering,
            State.RATING: self.rate,
        }[self.state]
        handler()

    def media_name(self) -> str:
        assert self.media is not None
        key = f"media_{self.media.kind}"
        return self.texts(key) if key in self.texts.catalog else self.texts("media_other")

    def no_words(self) -> frozenset[str]:
        """What says "no" to a yes-or-no question: ``words.no`` and the thanks."""
        return self.texts.words("no") | self.texts.words("thanks")

    def comment_skip_words(self) -> frozenset[str]:
        """What declines the survey's comment: ``words.comment_skip``, menu and close."""
        words = self.texts.words
        return words("comment_skip") | words("menu") | words("close")

    def greet(self, first_contact: bool) -> None:
        """The first reply of a conversation: welcome (answering the citizen's greeting,
        if any), and the privacy notice for a citizen writing from this address for the
        first time."""
        city = self.engine.config.city
        greeting = self.greeting()
        if greeting is None:
            self.say(self.texts("welcome", city=city))
        else:
            # A city that reworded ``welcome`` but not ``welcome_greeted`` keeps its words.
            overridden = self.texts.catalog["welcome"] != self.texts.defaults["welcome"]
            own = overridden and (
                self.texts.catalog["welcome_greeted"] == self.texts.defaults["welcome_greeted"]
            )
            key = "welcome" if own else "welcome_greeted"
            self.say(f"{greeting} {self.texts(key, city=city)}")
        if first_contact:
            self.say(self.engine.privacy_notice())
        if self.state is State.IDENTIFYING and not self.reading.text.strip():
            self.ask_identity()

    def greeting(self) -> str | None:
        """The answer to the citizen's greeting: ``Bom dia!`` to "bom dia" (likewise
        ``boa tarde``, ``boa noite``), with ``Tudo bem, obrigado por perguntar.`` to
        "tudo bem?" (``Olá! Tudo bem...`` to "oi, tudo bem?"); ``None`` when the message
        greets nobody or only says "oi" (the welcome answers it). The words are the
        catalogue's ``words.greeting_*``; the first dozen words are looked at."""
        head = " ".join(self.reading.words[:12])
        words = self.texts.words

        def said(name: str) -> bool:
            return any(contains_keyword(head, phrase) for phrase in words(f"greeting_{name}"))

        salutation = next(
            (name for name in ("morning", "afternoon", "evening", "hello") if said(name)), None
        )
        # "tudo bem" answers "how are you?" when asked, or said with a greeting.
        asked = said("how_are_you") and (
            salutation is not None
            or "?" in self.reading.text[:200]
            or head in words("greeting_how_are_you")
        )
        if salutation in (None, "hello") and not asked:
            return None  # a plain "oi": the welcome itself says hello
        answer = self.texts(f"greeting_{salutation or 'hello'}")
        return f"{answer} {self.texts('greeting_how_are_you')}" if asked else answer

    def global_command(self) -> str | None:
        """The first entry of :data:`~civic.words.GLOBAL_WORDS` this message is."""
        folded = self.reading.folded
        for entry in GLOBAL_WORDS:
            if self.state.value not in entry.states:
                continue
            if entry.name == "protocol" and self.protocol_asked():
                return "protocol"
            if entry.name == "close" and folded in self.texts.words("close"):
                return "close"
            if entry.name == "person" and wants_person(folded, strict=self.state is State.FORM):
                return "person"
            if entry.name == "menu" and (
                folded in self.texts.words("menu_in_form")
                if self.state is State.FORM
                else folded in self.texts.words("menu")
            ):
                return "menu"
        return None

    def command_protocol(self) -> None:
        number = self.protocol_asked()
        assert number is not None
        self.protocol_status(number)
        if self.state is State.IDENTIFYING:
            self.ask_identity()

    def command_close(self) -> None:
        if self.state is State.IDENTIFYING and not self.identified:
            self.say(self.texts("goodbye"))
            self.move(State.CLOSED)
            return
        if self.state is State.FORM:
            self.say(self.texts("form_left"))  # as "menu" says: nothing was sent
        self.to_rating()

    def command_person(self) -> None:
        if self.state is State.FORM and self.context.form is not None:
            self.context.held_form = self.context.form  # the attendant sees the answers
            self.context.form = None
        self.to_human("")

    def command_menu(self) -> None:
        if self.state is State.FORM:
            self.context.form = None
            self.say(self.texts("form_left"))
        if self.state is State.HUMAN:
            self.happened("left_queue")
        self.to_menu()

    def protocol_asked(self) -> str | None:
        """The protocol number a citizen asks about ("status do protocolo CAC-2026-000001",
        "PROCON 2026 000001?", "situação do ouv/2026/7"), as stored; or as typed when no
        such protocol is stored; or ``None`` when the message is not about a protocol."""
        return self.asked_protocol

    @functools.cached_property
    def asked_protocol(self) -> str | None:
        """:meth:`protocol_asked`, worked out once per message.

        A message is about a protocol when it holds a word of :data:`PROTOCOL_ASKING` or
        is nothing but a number (at most :data:`PROTOCOL_ALONE_WORDS` words of letters and
        digits). Its runs of words are looked up against the stored numbers, whatever the
        plugin that shaped them (:func:`civic.protocol_numbers.candidates`), in one query.
        When none is stored, a number shaped like one (:data:`PROTOCOL`, or
        :data:`SHAPED_PROTOCOL` in a question) is returned as typed, to say it is unknown.
        """
        text = self.reading.text[:2000]
        asking = any(word.startswith(PROTOCOL_ASKING) for word in self.reading.words)
        bare = text.strip().strip("?!.").strip()
        alone = (
            len(bare) <= protocol_numbers.MAX_LENGTH
            and protocol_numbers.SHAPE.fullmatch(bare) is not None
            and len(self.reading.words) <= PROTOCOL_ALONE_WORDS
        )
        if not asking and not alone:
            return None
        if asking:
            keys = protocol_numbers.candidates(self.reading.folded)
        else:
            keys = [protocol_numbers.key(bare)] if protocol_numbers.problem(bare) is None else []
        found = self.tx.find_submission(keys) if keys else None
        if found is not None:
            return str(found["protocol"])
        upper = text.upper()
        default = PROTOCOL.search(upper)
        if default is not None and (asking or bare.upper() == default.group(0)):
            return f"{default['prefix']}-{default['year']}-{default['sequence']}"
        shaped = SHAPED_PROTOCOL.search(text) if asking else None
        return shaped.group(0) if shaped is not None else None

    # -- protocol status ------------------------------------------------------------
    def protocol_status(self, protocol: str) -> None:
        """Tell a protocol's status, only to the citizen it belongs to (same CPF, or the
        conversation that filed it); never its data."""
        found = self.tx.submission(protocol)  # as stored, or as typed (then unknown)
        if found is None:
            self.say(self.texts("protocol_unknown", protocol=protocol))
            return
        mine = found["conversation_id"] == self.row["id"] or (
            self.citizen_id is not None and found["citizen_id"] == self.citizen_id
        )
        if not mine:
            key = "protocol_not_yours" if self.identified else "protocol_identify_first"
            self.say(self.texts(key, protocol=protocol))
            return
        department = self.engine.registry.get(found["department"])
        status_key = f"protocol_status_{found['status']}"
        self.say(
            self.texts(
                "protocol_status",
                protocol=protocol,
                department=department.name if department else found["department"],
                date=when(self.local(found["created_at"])),
                status=self.texts(status_key) if status_key in self.texts.catalog
                else found["status"],
            )
        )  # fmt: skip

    # -- identifying ----------------------------------------------------------------
    def ask_identity(self) -> None:
        self.say(self.texts("identify_ask"))

    def identify(self) -> None:
        if not self.engine.identifies:
            self.identified_next(self.reading)
            return
        text = self.reading.text
        result = self.call(
            "identify_citizen",
            text=text,
            conversation=self.snapshot(),
            texts=self.texts,
            message=self.reading,
        )
        if not isinstance(result, Identity):
            result = self.identify_with_pending(result)
        if isinstance(result, Identity):
            self.context.pending_name = None
            self.context.pending_cpf = None
            self.register_citizen(result)
            return
        if self.reading.cpf is not None:
            # "529.982.247-25", then "Maria José": keep the CPF (encrypted) for the name.
            self.context.pending_cpf = self.engine.vault.encrypt(self.reading.cpf)
        elif looks_like_a_name(self.reading):
            self.context.pending_name = text.strip()[:120]
        elif self.is_a_request(self.reading):
            # "oi, quero reclamar da loja", then name and CPF: acted on once identified.
            fillers = self.texts.words("identity_fillers")
            self.context.request = request.kept(request.leftover(self.reading, "", "", fillers))
        if not any(ch.isdigit() for ch in text) and not self.context.pending_cpf:
            self.ask_identity()
        elif isinstance(result, NotIdentified):
            self.say(result.reason)
        else:
            self.ask_identity()

    def identify_with_pending(self, result: Any) -> Any:
        """Try again with the half given in an earlier message (name, or CPF)."""
        pending = []
        if self.context.pending_name:
            pending.append(f"{self.context.pending_name} {self.reading.text}")
        if self.context.pending_cpf and self.reading.cpf is None:
            try:
                digits = self.engine.vault.decrypt(self.context.pending_cpf)
            except DecryptionError:  # the key was rotated away meanwhile: ask again
                self.context.pending_cpf = None
            else:
                pending.append(f"{self.reading.text} {digits}")
        for text in pending:
            retry = self.call(
                "identify_citizen",
                text=text,
                conversation=self.snapshot(),
                texts=self.texts,
                message=read(text),
            )
            if isinstance(retry, Identity):
                return retry
        return result

    def register_citizen(self, identity: Identity, *, move_on: bool = True) -> None:
        digits = identity.cpf
        if not isinstance(digits, str) or cpf.validate(digits) is not None:
            # A plugin returned a CPF we would refuse.
            self.say(self.texts("identify_cpf_check_digits", cpf=cpf.redact(str(digits))))
            return
        name = identity.name.strip()[:120]
        citizen_id, stored_name = self.tx.find_or_add_citizen(
            name=name,
            cpf_hash=cpf.keyed_hash(digits, self.engine.secret),
            cpf_masked=cpf.mask(digits),
            cpf_encrypted=self.engine.vault.encrypt(digits),
            now=self.now,
        )
        self.citizen_id = citizen_id
        self.citizen_name = name
        self.context.identified = True
        # Greeted as returning only when the name matches: a second person typing
        # someone's CPF learns nothing about them.
        returning = stored_name is not None and same_name(stored_name, name)
        first_name = name.split()[0] if name.split() else name
        key = "identified_again" if returning else "identified"
        self.say(self.texts(key, name=first_name, cpf=cpf.mask(digits)))
        if not move_on:
            return
        said = self.request_after(identity)
        slug = self.context.after_identify
        self.context.after_identify = None
        if slug and self.engine.registry.get(slug):
            self.enter_department(slug, said=said)
        else:
            self.identified_next(said)

    def is_a_request(self, reading: Reading) -> bool:
        """Whether a message that does not identify is a request to keep for later: no
        CPF-looking number, not a bare number, and it routes somewhere."""
        return (
            not reading.cpfs
            and not reading.folded.isdigit()
            and bool(reading.folded)
            and self.route(reading) is not None
        )

    def request_after(self, identity: Identity) -> Reading | None:
        """What the citizen asked along with the name and CPF (the identification
        message's :func:`~civic.request.leftover`), else a request kept from before."""
        fillers = self.texts.words("identity_fillers")
        rest = request.leftover(self.reading, identity.name, identity.cpf, fillers)
        said = request.kept(rest) if fold(rest) else self.context.request
        self.context.request = None
        return read(said) if said else None

    def identified_next(self, said: Reading | None = None) -> None:
        """After identification: the pinned department, or what the citizen asked
        routed like any message, or the menu."""
        pinned = self.row["pinned_department"]
        if pinned and self.engine.registry.get(pinned):
            self.enter_department(pinned, said=said)
        elif said is not None:
            self.act_on(said)
        else:
            self.to_menu()

    def act_on(self, said: Reading) -> None:
        """Route a kept request as if typed at the menu; nothing decided: the menu (a
        plain "obrigada" gets no "Não entendi")."""
        if wants_person(said.folded):
            self.to_human("")
            return
        slug = self.route(said)
        if isinstance(slug, tuple):
            self.ask_which(slug, said)
        elif slug is not None:
            self.enter_department(slug, said=None if self.picks(slug, said) else said)
        else:
            self.to_menu(said)

    # -- choosing a department ------------------------------------------------------
    def menu_choices(self) -> tuple[Choice, ...]:
        return tuple(
            Choice(str(number), f"{d.name} — {d.description}" if d.description else d.name)
            for number, d in enumerate(self.engine.registry, start=1)
        )

    def to_menu(self, said: Reading | None = None) -> None:
        """The main menu (a pinned or only department: that department, acting on what
        the citizen ``said``, if anything)."""
        self.context.request = None
        if self.needs_identity():
            # "atendente" then "menu" does not skip the name and CPF.
            self.move(State.IDENTIFYING)
            self.ask_identity()
            return
        pinned = self.row["pinned_department"]
        if pinned and self.engine.registry.get(pinned):
            self.enter_department(pinned, said=said)
            return
        if len(self.engine.registry) == 1:  # a menu of one is no choice
            self.enter_department(self.engine.registry.slugs[0], said=said)
            return
        if not len(self.engine.registry):
            self.say(self.texts("no_departments"))
            self.to_human("")
            return
        self.move(State.CHOOSING)
        self.context.form = None
        self.say(self.texts("menu"), self.menu_choices())

    def routing_departments(self) -> list[Department]:
        """The enabled departments, each with the extra ``keywords`` its city section
        lists (``[departments.cac] keywords = [...]``)."""
        return routing.routing_departments(self.engine.registry, self.engine.config)

    def route(self, said: Reading | None = None) -> str | tuple[str, ...] | None:
        """The chosen department's slug for ``said`` (default: this message); a tuple of
        slugs when it fits several equally (civic asks which one); ``None`` when it
        decides nothing."""
        said = said or self.reading
        slug = self.call(
            "route_message",
            text=said.text,
            departments=self.routing_departments(),
            conversation=self.snapshot(),
            message=said,
        )
        if isinstance(slug, tuple | list):
            known = tuple(s for s in slug if isinstance(s, str) and self.engine.registry.get(s))
            return known[0] if len(known) == 1 else (known or None)
        return slug if isinstance(slug, str) and self.engine.registry.get(slug) else None

    def ask_which(self, slugs: tuple[str, ...], said: Reading) -> None:
        """Ask which of several departments the citizen means; the choices keep their
        menu numbers, so the answer (number or name) routes as in the menu, and the
        sentence ``said`` is kept to act on in the department chosen."""
        if self.state is not State.CHOOSING:
            self.move(State.CHOOSING)
        self.context.form = None
        self.context.request = request.kept(said.redacted)
        numbers = {d.slug: n for n, d in enumerate(self.engine.registry, start=1)}
        choices = tuple(
            Choice(str(numbers[d.slug]), d.name) for d in self.engine.registry if d.slug in slugs
        )
        self.say(self.texts("menu_which"), choices)

    def choose(self) -> None:
        folded = self.reading.folded
        if folded in self.no_words() - {"2"}:  # "nada", "não": nothing more to ask
            self.to_rating()
            return
        slug = self.route()
        if isinstance(slug, tuple):
            self.ask_which(slug, self.reading)
            return
        if slug is None:
            key = "menu" if self.opened else "menu_not_understood"  # "oi": here is the menu
            self.say(self.texts(key), self.menu_choices())
            return
        said: Reading | None = self.reading
        if self.picks(slug, self.reading):  # "2", "PROCON": the sentence kept is the request
            said = read(self.context.request) if self.context.request else None
        self.enter_department(slug, said=said)

    def picks(self, slug: str, said: Reading) -> bool:
        """Whether ``said`` only picks the department: its menu number or its name."""
        department = self.engine.registry.get(slug)
        names = {fold(department.slug), fold(department.name)} if department else set()
        return said.folded.isdigit() or said.folded in names

    # -- inside a department --------------------------------------------------------
    def topic_choices(self, department: Department) -> tuple[Choice, ...]:
        return tuple(
            Choice(str(number), topic.title)
            for number, topic in enumerate(department.topics, start=1)
        )

    def enter_department(self, slug: str, *, said: Reading | None = None) -> None:
        """Enter a department; what the citizen ``said`` (a routed sentence, a kept
        request) is passed on so it can act on it, or kept for its form."""
        department = self.engine.registry.get(slug)
        assert department is not None
        if self.needs_identity(department):
            self.context.after_identify = slug
            self.context.request = request.kept(said.redacted) if said else None
            self.move(State.IDENTIFYING)
            self.say(self.texts("identify_for_department", department=department.name))
            self.ask_identity()
            return
        self.move(State.DEPARTMENT)
        self.department = slug
        self.context.form = None
        self.context.request = None
        if said is not None:
            action = self.department_action(department, said)
            if action is not None:
                self.apply(department, action, said)
                return
            self.keep(said)
        self.say(
            department.greeting or self.texts("department_greeting", name=department.name),
            self.topic_choices(department),
        )

    def department_action(self, department: Department, said: Reading | None = None) -> Any:
        """What ``department`` does with ``said`` (default: this message)."""
        said = said or self.reading
        return self.call(
            "department_message",
            department=department,
            text=said.text,
            conversation=self.snapshot(),
            texts=self.texts,
            settings=self.engine.config.for_department(department.slug),
            message=said,
            now=self.now,
        )

    def keep(self, said: Reading) -> None:
        """Keep a description no topic answered ("a loja não entregou minha geladeira"):
        the next form of the department starts with it."""
        if request.describes(said.text, self.texts.words("request_fillers")):
            before = self.context.request
            self.context.request = request.kept(
                f"{before}\n{said.redacted}" if before else said.redacted
            )

    def in_department(self) -> None:
        department = self.current
        if department is None:  # the department was disabled since
            self.to_menu()
            return
        if self.reading.folded in self.texts.words("thanks"):
            self.offer_help()
            return
        action = self.department_action(department)
        if action is None:
            self.keep(self.reading)
            if not self.outgoing:
                self.say(self.texts("department_not_understood"), self.topic_choices(department))
            return
        self.apply(department, action, self.reading)

    def apply(self, department: Department, action: Any, said: Reading | None = None) -> None:
        """Do what the department answered to ``said``; a form starts with the words kept
        for it, any other finished action lets them go."""
        if isinstance(action, Answer):
            self.say(action.text, action.choices)
            if action.done:
                self.context.request = None
                self.offer_help()
        elif isinstance(action, StartForm):
            self.start_form(department, action, said)
        elif isinstance(action, HandOver):
            self.context.request = None
            self.to_human(action.text)
        else:
            log.error(
                "department %s returned %s, not an action", department.slug, type(action).__name__
            )
            self.plugin_trouble()

    # -- forms ----------------------------------------------------------------------
    @property
    def today(self) -> dt.date:
        """The city's date of this message (forms refuse dates after it)."""
        return self.local(self.now).date()

    def start_form(
        self, department: Department, action: StartForm, said: Reading | None = None
    ) -> None:
        """Start a form, pre-filled from the words kept and the message that started it
        (:func:`civic.request.form_answers`)."""
        runner = self.engine.forms.get((department.slug, action.form))
        if runner is None:
            log.error("department %s has no form %r", department.slug, action.form)
            self.say(self.texts("plugin_failed"))
            return
        parts = [self.context.request or "", said.redacted if said else ""]
        self.context.request = None
        fillers = self.texts.words("request_fillers")
        prefill = request.form_answers(runner.schema, parts, fillers)
        if action.text:
            self.say(action.text)
        self.move(State.FORM)
        self.context.form = FormProgress(action.form)
        self.form_result(department, runner.start(prefill))

    def fill_form(self) -> None:
        department = self.current
        form = self.context.form
        runner = self.engine.forms.get((self.department or "", form.name if form else ""))
        if department is None or runner is None or form is None:
            self.context.form = None
            self.to_menu()
            return
        other = self.other_department_named(department)
        if other is not None:  # "procon" typed in the CAC's form: nothing sent, go there
            self.context.form = None
            self.say(self.texts("form_left"))
            self.enter_department(other)
            return
        # A plugin's form warnings run inside the step: within the hooks' time limit.
        limit = plugins.TIME_LIMIT if plugins.foreign(runner.warnings.values()) else None
        try:
            step = plugins.within(
                limit,
                functools.partial(runner.step, form.progress, self.reading.text, today=self.today),
            )
        except Exception:
            log.exception("form %s of %s failed", form.name, department.slug)
            self.plugin_trouble()
            return
        self.form_result(department, step)

    def other_department_named(self, current: Department) -> str | None:
        """The slug of another department when the message is nothing but its name or
        slug ("procon", "Junta de Serviço Militar"); no form answer is a department's
        name."""
        folded = self.reading.folded
        for department in self.engine.registry:
            if department.slug != current.slug and folded in (
                fold(department.slug),
                fold(department.name),
            ):
                return department.slug
        return None

    def form_result(self, department: Department, step: FormStep) -> None:
        form = self.context.form
        assert form is not None
        if step.status == "asking":
            for reply in step.replies:
                self.say(reply.text, reply.choices)
            form.progress = dict(step.progress)
        elif step.status == "submitted":
            self.context.form = None
            self.submit(department, form.name, step.data or {})
        elif step.status == "cancelled":  # one message, not the runner's and then ours
            self.context.form = None
            self.move(State.DEPARTMENT)
            self.say(self.texts("form_cancelled_topics"), self.topic_choices(department))
        elif step.status == "handover":  # to_human tells the citizen, once
            form.progress = dict(step.progress)
            self.context.held_form = form
            self.context.form = None
            self.to_human("")

    def submit(self, department: Department, form: str, data: dict[str, Any]) -> None:
        runner = self.engine.forms.get((department.slug, form))
        kept, secret = split_secrets(data, runner.schema if runner else None)
        protocol = self.file_submission(department, form, kept, secret)
        self.context.protocols.append(protocol)
        self.say(self.texts("form_submitted", protocol=protocol))
        extras = self.call(
            "form_submitted",
            department=department,
            form=form,
            data=data,
            protocol=protocol,
            conversation=self.snapshot(),
            now=self.now,
            texts=self.texts,
            settings=self.engine.config.for_department(department.slug),
        )
        for extra in extras or []:
            if isinstance(extra, str) and extra:
                self.say(extra)
        self.offer_help()

    def file_submission(
        self, department: Department, form: str, kept: dict[str, Any], secret: dict[str, Any]
    ) -> str:
        """Store the submission under a new protocol number, and return the number.

        The number is the ``protocol_number`` hook's for the next sequence of the
        department's prefix in the city's year. One that is not a protocol number
        (:func:`civic.protocol_numbers.problem`) is logged with the plugin that gave it
        and replaced by civic's default format (``PROCON-2026-000123``); one that is
        already taken is logged and asked for again with the next sequence, at most
        :data:`PROTOCOL_ATTEMPTS` times, then the default format is used. The citizen's
        confirmation never fails because of a plugin's numbering.
        """
        from civic.storage import DuplicateProtocol

        year = self.local(self.now).year  # the city's year, not UTC's
        secret_data = self.engine.vault.encrypt_json(secret) if secret else None
        attempt = 0
        while True:
            attempt += 1
            sequence = self.tx.next_protocol_sequence(department.prefix, year)
            default = default_protocol_number(department=department, year=year, sequence=sequence)
            plugin, number = None, None
            if attempt <= PROTOCOL_ATTEMPTS:
                plugin, number = call_first(
                    "protocol_number",
                    self.engine.pm,
                    department=department,
                    form=form,
                    year=year,
                    sequence=sequence,
                )
            why = protocol_numbers.problem(number) if number is not None else None
            if why is not None:
                log.error(
                    "plugin %s returned protocol number %r from hook protocol_number, which "
                    "%s: numbered %s instead",
                    plugin,
                    number,
                    why,
                    default,
                )
            if number is None or why is not None:
                plugin, number = None, default
            try:
                self.tx.add_submission(
                    conversation_id=self.row["id"],
                    department=department.slug,
                    form=form,
                    protocol=number,
                    data=kept,
                    secret_data=secret_data,
                    citizen_id=self.citizen_id,
                    citizen_name=self.citizen_name,
                    now=self.now,
                )
            except DuplicateProtocol:
                if plugin is None:  # civic's own format, taken by a plugin's number
                    if attempt >= PROTOCOL_ATTEMPTS * 4:
                        raise
                    log.warning("protocol number %s is taken: trying the next sequence", number)
                    continue
                log.error(
                    "plugin %s returned protocol number %r from hook protocol_number, which is "
                    "already taken (attempt %d of %d)%s",
                    plugin,
                    number,
                    attempt,
                    PROTOCOL_ATTEMPTS,
                    "; civic's default format is used" if attempt == PROTOCOL_ATTEMPTS else "",
                )
                continue
            return number

    # -- the team -------------------------------------------------------------------
    def to_human(self, text: str) -> None:
        """Hand the conversation to the department's team (the queue), telling the
        citizen once, with the team's hours when it is out of them."""
        self.move(State.HUMAN)
        self.changes.update(
            handed_over_at=self.now, agent=None, agent_first_response_at=None, resolved_at=None
        )
        self.context.waiting_told = True
        self.happened("handed_over")
        self.notices.append(Notice("conversation_handed_over", {}))
        hours = self.engine.config.hours_of(self.department)
        if hours.is_open(self.now):
            self.say(text or self.texts("handover"))
            return
        if text:
            self.say(text)
        opening = hours.next_opening(self.now)
        self.say(
            self.texts(
                "handover_closed",
                hours=hours.describe(self.texts),
                next=when(opening) if opening else self.texts("handover_next_unknown"),
            )
        )

    def with_team(self) -> None:
        """Waiting for, or talking to, an attendant: the message is stored for them and
        the bot stays quiet. A citizen who asked for a person before identifying may
        still give name and CPF, so the attendant can use them."""
        if self.identified or not self.engine.identifies or self.reading.cpf is None:
            return
        result = self.call(
            "identify_citizen",
            text=self.reading.text,
            conversation=self.snapshot(),
            texts=self.texts,
            message=self.reading,
        )
        if isinstance(result, Identity):
            self.register_citizen(result, move_on=False)

    # -- offering further help ------------------------------------------------------
    def yes_no_choices(self) -> tuple[Choice, ...]:
        return (Choice("1", self.texts("yes")), Choice("2", self.texts("no")))

    def offer_help(self) -> None:
        self.move(State.OFFERING)
        self.say(self.texts("offer_help"), self.yes_no_choices())

    def offering(self) -> None:
        folded = self.reading.folded
        first = folded.split()[0] if folded else ""
        if folded in self.texts.words("yes") or (first == "sim" and folded not in self.no_words()):
            self.to_menu()
            return
        if folded in self.no_words() or first == "nao":
            self.to_rating()
            return
        slug = self.route()
        if not isinstance(slug, tuple) and self.goes_on_in_department():
            return
        if isinstance(slug, tuple):
            self.ask_which(slug, self.reading)
            return
        if slug is not None:
            self.enter_department(slug, said=self.reading)
            return
        department = self.current
        if department is not None:
            action = self.department_action(department)
            if action is not None:
                self.move(State.DEPARTMENT)
                self.apply(department, action, self.reading)
                return
        self.say(self.texts("offer_help_again"), self.yes_no_choices())

    def goes_on_in_department(self) -> bool:
        """After an answer, a message naming one of the department's own topics goes on
        there ("agendar atendimento" after the Junta said to schedule a visit), unless
        another department's subject words claim it ("quero reclamar da loja"); a tie
        between departments is asked about instead (see :meth:`offering`)."""
        department = self.current
        folded = self.reading.folded
        if department is None or folded.isdigit():
            return False
        if match_topic(department, self.reading.text, folded) is None:
            return False
        others = (d for d in self.routing_departments() if d.slug != department.slug)
        if any(routing.score(self.reading, other, generic=False) for other in others):
            return False
        action = self.department_action(department)
        if action is None:
            return False
        self.move(State.DEPARTMENT)
        self.apply(department, action, self.reading)
        return True

    # -- the closing survey ---------------------------------------------------------
    def to_rating(self) -> None:
        start_survey(self)

    def rate(self) -> None:
        progress = self.context.survey or SurveyProgress()
        self.context.survey = progress
        folded = self.reading.folded
        if progress.step == "score":
            self.rate_score(progress)
        elif progress.step == "questions":
            self.survey_questions(progress)
        elif folded in self.texts.words("yes"):  # "sim" to "do you want to leave a comment?"
            self.say(self.texts("comment_go_ahead"))
        elif self.declines_comment() or wants_person(folded, strict=True):
            self.finish(None)
        else:
            self.finish(self.reading.redacted.strip()[:4000])

    def rate_score(self, progress: SurveyProgress) -> None:
        """The score question; the score is stored as soon as it is given."""
        survey = self.engine.config.survey
        folded = self.reading.folded
        if folded in self.texts.words("menu") and not progress.attempts:
            self.context.survey = None  # the citizen wants something else after all
            self.to_menu()
            return
        if wants_person(folded, strict=True):
            self.context.survey = None
            self.to_human("")
            return
        # "obrigado", "tchau": no score, bye
        if folded in self.texts.words("thanks") | self.texts.words("close"):
            self.record(None, declined=True)
            self.finish(None, declined=True)
            return
        result = self.call(
            "score_rating",
            text=self.reading.text,
            scale_min=survey.scale_min,
            scale_max=survey.scale_max,
            texts=self.texts,
        )
        if isinstance(result, int) and not isinstance(result, bool):
            if survey.scale_min <= result <= survey.scale_max:
                self.record(result, declined=False)
                if self.engine.survey_form is not None:
                    progress.step = "questions"
                    self.survey_step(progress, self.engine.survey_form.start())
                else:
                    progress.step = "comment"
                    self.say(self.texts("comment_question"))
                return
            result = None
        if result == "decline":  # only an explicit "pular", "prefiro não" is a refusal
            self.record(None, declined=True)
            self.finish(None, declined=True)
            return
        self.score_not_read(progress, result)

    def score_not_read(self, progress: SurveyProgress, result: Any) -> None:
        """Ask again for an answer that is not a score: with the reason and the range;
        from the ``max_attempts``-th, with an example ("por exemplo: 9"). After
        :data:`UNREAD_AFTER_EXAMPLE` more, close without recording any rating (the
        citizen did not refuse; nobody can loop forever)."""
        survey = self.engine.config.survey
        low, high = survey.scale_min, survey.scale_max
        progress.attempts += 1
        if progress.attempts >= survey.max_attempts + UNREAD_AFTER_EXAMPLE:
            self.finish(None, closing="closing_unrated")
            return
        if progress.attempts >= survey.max_attempts:
            text = self.texts("rating_example", min=low, max=high, example=max(low, high - 1))
        elif isinstance(result, str) and result.startswith("refuse:"):
            text = result[len("refuse:") :]
        else:
            text = self.texts("rating_not_understood", min=low, max=high)
        self.outgoing.append(Outgoing(Reply(text, scale=(low, high))))

    def declines_comment(self) -> bool:
        """Whether the answer to "a comment?" declines it: it is made only of
        ``words.comment_skip`` phrases ("nada a declarar", "tá bom assim"), "não" and
        thanks ("não, sem comentários, obrigado"; "obrigada")."""
        phrases = self.comment_skip_words() | self.no_words()
        words = self.reading.words
        if not words or len(words) > 16:
            return False
        longest = max(len(phrase.split()) for phrase in phrases)
        split = {0}  # how many first words are split into such phrases
        for end in range(1, len(words) + 1):
            if any(
                end - size in split and " ".join(words[end - size : end]) in phrases
                for size in range(1, min(longest, end) + 1)
            ):
                split.add(end)
        return len(words) in split

    def survey_questions(self, progress: SurveyProgress) -> None:
        """The city's extra survey questions (a form), between the score and the comment."""
        runner = self.engine.survey_form
        if runner is None:  # the city removed them mid-conversation
            progress.step = "comment"
            self.say(self.texts("comment_question"))
            return
        self.survey_step(
            progress, runner.step(progress.progress, self.reading.text, today=self.today)
        )

    def survey_step(self, progress: SurveyProgress, step: FormStep) -> None:
        if step.status == "asking":
            for reply in step.replies:
                self.say(reply.text, reply.choices)
            progress.progress = dict(step.progress)
            return
        # Submitted, or the citizen stopped: keep what was answered and move on.
        answers = step.data or step.progress.get("answers", {})
        # A survey keeps no document number.
        runner = self.engine.survey_form
        assert runner is not None  # a survey step comes from it
        kept, _secret = split_secrets(dict(answers), runner.schema)
        self.tx.update_rating(self.row["id"], answers={**kept, "declined": False})
        progress.progress = {}
        progress.step = "comment"
        self.say(self.texts("comment_question"))

    def record(self, score: int | None, *, declined: bool) -> None:
        """Store the rating now, so a citizen who stops answering still counts. A rating
        given after an attendant closed the conversation records that attendant."""
        survey = self.engine.config.survey
        agent = self.row["agent"]  # the attendant who had the conversation, if any
        self.tx.add_rating(
            conversation_id=self.row["id"],
            department=self.department,
            score=score,
            scale_min=survey.scale_min,
            scale_max=survey.scale_max,
            comment=None,
            answers={"declined": declined},
            now=self.now,
            agent=agent,
        )

    def finish(
        self, comment: str | None, *, declined: bool = False, closing: str | None = None
    ) -> None:
        """Close the survey and the conversation, saying ``closing`` (a text key)."""
        if comment:
            self.tx.update_rating(self.row["id"], comment=comment)
        self.context.survey = None
        self.say(self.texts(closing or ("closing_declined" if declined else "closing_thanks")))
        self.move(State.CLOSED)


#: Unreadable answers to the score question after the one that got an example: the
#: last of them closes the survey without a score (see :meth:`Turn.score_not_read`).
UNREAD_AFTER_EXAMPLE = 2


def start_survey(turn: Turn) -> None:
    """Move to the closing survey and ask for the score (the bot's path; an attendant's
    close asks the same :func:`rating_question`)."""
    turn.move(State.RATING)
    turn.context.form = None
    turn.context.survey = SurveyProgress()
    turn.outgoing.append(Outgoing(rating_question(turn.engine)))


def rating_question(engine: Engine) -> Reply:
    """The score question, on the city's scale (channels may offer each score to tap)."""
    survey = engine.config.survey
    return Reply(
        engine.texts("rating_question", min=survey.scale_min, max=survey.scale_max),
        scale=(survey.scale_min, survey.scale_max),
    )


#: Field formats whose values are never a CPF. A phone number is kept as typed, unless it
#: passes the CPF check digits (one in a hundred does, and a citizen may type their CPF at
#: the phone question): that one is kept encrypted (staff reveal it), its mask in clear.
NOT_A_DOCUMENT = frozenset({"cep", "date", "money", "email", "cnpj"})


def split_secrets(
    data: Mapping[str, Any], schema: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Form answers as stored in clear (document numbers masked) and the answers that
    held a CPF-looking number, to be kept encrypted. Fields whose ``format`` is never a
    document (phone, CEP, date...) are kept as they are."""
    properties = (schema or {}).get("properties", {})
    kept: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for key, value in data.items():
        field_format = (properties.get(key) or {}).get("format")
        if field_format == "phone" and isinstance(value, str):
            found = cpf.candidates(value)
            if cpf.first_valid(found) is not None:  # a CPF, or a phone just like one
                secret[key], value = value, cpf.redact(value, found)
        elif isinstance(value, str) and field_format not in NOT_A_DOCUMENT:
            masked = cpf.redact(value)
            if masked != value:
                secret[key] = value
                value = masked
        kept[key] = value
    return kept, secret
