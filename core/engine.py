"""The conversation engine: one inbound message in, replies out, in one transaction.

A channel (the terminal, WhatsApp) is an adapter that turns what it receives into
:class:`~civic.values.Inbound` and shows the :class:`~civic.values.Reply` values that come
back. Everything the engine knows about a conversation is in the database, so any worker
can take the next message and a restarted process resumes where it stopped.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import zoneinfo
from collections.abc import Callable
from typing import Any

import pluggy
import sqlalchemy as sa

from civic import cpf, departments
from civic.config import Config
from civic.forms import FormRunner, FormStep, build_format_checker
from civic.plugins import PluginFailed, call_safely, load_plugins
from civic.states import State, check_transition
from civic.storage import Storage, Transaction, to_storage_time, utcnow
from civic.text import REQUEST_WORDS, fold, strip_invisible
from civic.texts import Texts
from civic.values import (
    Answer,
    Choice,
    Conversation,
    Department,
    HandOver,
    Identity,
    Inbound,
    NotIdentified,
    Outcome,
    Reply,
    StartForm,
)

log = logging.getLogger(__name__)

# Commands a citizen can type at any point once identified (compared after `fold`).
MENU_WORDS = frozenset({"menu", "voltar", "inicio", "menu principal", "voltar ao menu"})
CLOSE_WORDS = frozenset(
    {"encerrar", "sair", "tchau", "finalizar", "fim", "encerrar atendimento", "pode encerrar"}
)
HUMAN_WORDS = frozenset(
    {"atendente", "humano", "falar com atendente", "falar com um atendente", "falar com alguem",
     "falar com uma pessoa", "quero falar com um atendente", "quero falar com atendente"}
)  # fmt: skip
THANKS_WORDS = frozenset(
    {"obrigado", "obrigada", "valeu", "so isso", "era so isso", "ok obrigado", "ok obrigada",
     "obg", "brigado", "brigada", "muito obrigado", "muito obrigada"}
)  # fmt: skip
#: Said after a conversation closed, these are answered but open no new conversation.
AFTER_CLOSE_WORDS = (
    THANKS_WORDS | CLOSE_WORDS | {"ok", "okay", "blz", "beleza", "de nada", "valeu obrigado"}
)
AFTER_CLOSE = dt.timedelta(hours=12)
YES_WORDS = frozenset({"sim", "s", "1", "quero", "claro", "yes", "pode ser", "tenho", "ss"})
NO_WORDS = frozenset(
    {"nao", "n", "2", "nao obrigado", "nao obrigada", "so isso", "nada", "era so isso",
     "nao preciso", "no", "e so isso", *THANKS_WORDS}
)  # fmt: skip
COMMENT_SKIP_WORDS = frozenset(
    {"nao", "n", "pular", "nada", "sem comentario", "sem comentarios", "nao obrigado",
     "nao obrigada", "nenhum", "nenhuma", "nao tenho", "2"}
)  # fmt: skip

Clock = Callable[[], dt.datetime]


def looks_like_a_name(text: str) -> bool:
    """Whether a message could be just the citizen's name (kept while the CPF is asked)."""
    words = fold(text).split()
    return (
        1 <= len(words) <= 8
        and all(word.isalpha() for word in words)
        and not REQUEST_WORDS & set(words)
        and sum(map(len, words)) >= 3
    )


#: A protocol number as civic's default plugin writes them: ``PROCON-2026-000123``.
PROTOCOL = re.compile(
    r"\b(?P<prefix>[A-Z][A-Z0-9_]{1,31})[\s-]+(?P<year>\d{4})[\s-]+(?P<sequence>\d{4,})\b"
)


def _when(moment: dt.datetime) -> str:
    """``30/11/2026 às 08:00`` in the moment's own time zone."""
    return f"{moment:%d/%m/%Y} às {moment:%H:%M}"


class Engine:
    """Processes inbound messages. Build one per process and reuse it."""

    def __init__(
        self,
        storage: Storage,
        *,
        secret: bytes,
        config: Config | None = None,
        manager: pluggy.PluginManager | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.storage = storage
        self.secret = secret
        self.config = config or Config()
        self.pm = manager or load_plugins()
        self.clock = clock
        self.texts = Texts(self.config.locale, self.config.texts)
        checker = build_format_checker(self.pm)
        self.registry = departments.collect(
            self.pm, self.config.departments, frozenset(checker.checkers)
        )
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
        self.identifies = bool(self.pm.hook.identify_citizen.get_hookimpls())

    # -- public API -----------------------------------------------------------------
    def handle(self, inbound: Inbound) -> Outcome:
        """Process one inbound message in one transaction and return the replies.

        A message whose ``channel_message_id`` was already processed changes nothing and
        returns an outcome with ``duplicate=True`` and no replies.
        """
        if inbound.pinned_department and not self.registry.get(inbound.pinned_department):
            raise ValueError(f"unknown department {inbound.pinned_department!r}")
        for attempt in range(3):
            try:
                return self._handle_once(inbound)
            except sa.exc.IntegrityError:
                # Another worker took the same message id, or opened this address's
                # conversation first. Look again in a fresh transaction.
                if inbound.channel_message_id and self._seen(inbound):
                    return Outcome(None, "", None, (), duplicate=True)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _seen(self, inbound: Inbound) -> bool:
        assert inbound.channel_message_id is not None
        with self.storage.reading() as tx:
            return tx.message_seen(inbound.channel, inbound.channel_message_id)

    def _handle_once(self, inbound: Inbound) -> Outcome:
        now = to_storage_time(inbound.received_at) if inbound.received_at else self.clock()
        with self.storage.transaction() as tx:
            if inbound.channel_message_id and tx.message_seen(
                inbound.channel, inbound.channel_message_id
            ):
                return Outcome(None, "", None, (), duplicate=True)
            row = tx.open_conversation(inbound.channel, inbound.address)
            if row is None and fold(inbound.text) in AFTER_CLOSE_WORDS:
                closed = self._after_close(tx, inbound, now)
                if closed is not None:
                    return closed
            opened = row is None
            if row is None:
                conversation_id = tx.create_conversation(
                    channel=inbound.channel,
                    address=inbound.address,
                    state=State.IDENTIFYING.value,
                    pinned_department=inbound.pinned_department,
                    now=now,
                )
                row = tx.conversation(conversation_id)
                assert row is not None
            tx.add_message(
                conversation_id=row["id"],
                direction="in",
                author="citizen",
                text=cpf.redact(inbound.text),  # the CPF is kept only hashed and masked
                channel=inbound.channel,
                channel_message_id=inbound.channel_message_id,
                created_at=now,
            )
            turn = Turn(self, tx, dict(row), now)
            turn.process(inbound.text, opened=opened)
            turn.save()
            snapshot = turn.snapshot()
        if opened:
            call_safely("conversation_opened", self.pm, conversation=snapshot)
        if turn.state is State.CLOSED:
            call_safely("conversation_closed", self.pm, conversation=snapshot)
        return Outcome(
            conversation_id=snapshot.id,
            state=turn.state.value,
            department=turn.department,
            replies=tuple(turn.replies),
        )

    def _after_close(self, tx: Transaction, inbound: Inbound, now: dt.datetime) -> Outcome | None:
        """A "thanks" or "bye" right after closing: kept with the closed conversation and
        answered, instead of opening a new conversation nobody wanted."""
        last = tx.last_conversation(inbound.channel, inbound.address)
        if last is None or last["closed_at"] is None or now - last["closed_at"] > AFTER_CLOSE:
            return None
        reply = Reply(self.texts("after_close"))
        for direction, author, text, message_id in (
            ("in", "citizen", cpf.redact(inbound.text), inbound.channel_message_id),
            ("out", "bot", reply.text, None),
        ):
            tx.add_message(
                conversation_id=last["id"],
                direction=direction,
                author=author,
                text=text,
                channel=inbound.channel,
                channel_message_id=message_id,
                created_at=now,
            )
        return Outcome(last["id"], State.CLOSED.value, last["department"], (reply,))

    # -- rendering ------------------------------------------------------------------
    @staticmethod
    def render(reply: Reply) -> str:
        """A reply as plain text, its choices as numbered lines (as stored and as sent
        to channels without buttons)."""
        lines = [reply.text] if reply.text else []
        lines += [f"{choice.value}. {choice.label}" for choice in reply.choices]
        return "\n".join(lines)


class Turn:
    """The work on one conversation for one inbound message."""

    def __init__(self, engine: Engine, tx: Transaction, row: dict[str, Any], now: dt.datetime):
        self.engine = engine
        self.texts = engine.texts
        self.tx = tx
        self.row = row
        self.now = now
        self.state = State(row["state"])
        self.department: str | None = row["department"]
        self.context: dict[str, Any] = json.loads(row["context"] or "{}")
        self.citizen_id: int | None = row["citizen_id"]
        self.replies: list[Reply] = []

    # -- bookkeeping ----------------------------------------------------------------
    def move(self, state: State) -> None:
        check_transition(self.state, state)
        self.state = state

    def say(self, text: str, choices: tuple[Choice, ...] = ()) -> None:
        if text or choices:
            self.replies.append(Reply(text=text, choices=choices))

    def snapshot(self) -> Conversation:
        return Conversation(
            id=self.row["id"],
            channel=self.row["channel"],
            address=self.row["address"],
            state=self.state.value,
            department=self.department,
            pinned_department=self.row["pinned_department"],
            citizen_id=self.citizen_id,
            citizen_name=self.context.get("name"),
            opened_at=self.row["opened_at"],
            context=dict(self.context),
        )

    def save(self) -> None:
        for reply in self.replies:
            self.tx.add_message(
                conversation_id=self.row["id"],
                direction="out",
                author="bot",
                text=Engine.render(reply),
                channel=self.row["channel"],
                created_at=self.now,
            )
        values: dict[str, Any] = {
            "state": self.state.value,
            "department": self.department,
            "context": self.context,
            "citizen_id": self.citizen_id,
            "updated_at": self.now,
        }
        if self.replies and self.row["first_response_at"] is None:
            values["first_response_at"] = self.now
        if self.state is State.CLOSED:
            values["closed_at"] = self.now
        self.tx.update_conversation(self.row["id"], **values)

    def local(self, moment: dt.datetime) -> dt.datetime:
        """``moment`` in the city's time zone."""
        return moment.astimezone(zoneinfo.ZoneInfo(self.engine.config.hours.timezone))

    @property
    def current(self) -> Department | None:
        return self.engine.registry.get(self.department)

    def call(self, hook: str, **kwargs: Any) -> Any:
        """Call a hook; a plugin failure becomes a polite apology, never a crash."""
        try:
            return call_safely(hook, self.engine.pm, **kwargs)
        except PluginFailed:
            self.say(self.texts("plugin_failed"))
            return None

    # -- dispatch -------------------------------------------------------------------
    def process(self, text: str, *, opened: bool) -> None:
        folded = fold(text)
        if not strip_invisible(text).strip():
            if opened:
                self.say(self.texts("welcome", city=self.engine.config.city))
                self.ask_identity()
            else:
                self.say(self.texts("empty_message"))
            return
        protocol = self.protocol_asked(text)
        if protocol and self.state not in (State.FORM, State.RATING):
            self.protocol_status(protocol)
        elif self.state is State.IDENTIFYING:
            if folded in HUMAN_WORDS:  # no CPF at hand: a person can still help
                self.to_human("")
            else:
                self.identify(text, opened=opened)
        elif self.state is State.RATING:
            self.rate(text)
        elif folded in CLOSE_WORDS:
            self.to_rating()
        elif self.state is State.FORM:
            # The form has its own words (cancelar, voltar, atendente); only "menu"
            # leaves it from outside, saying that nothing was sent.
            if folded == "menu":
                self.say(self.texts("form_left"))
                self.to_menu()
            else:
                self.fill_form(text)
        elif folded in MENU_WORDS:
            self.to_menu()
        elif folded in HUMAN_WORDS:
            self.to_human("")
        elif self.state is State.CHOOSING:
            self.choose(text)
        elif self.state is State.DEPARTMENT:
            self.in_department(text, folded)
        elif self.state is State.HUMAN:
            self.waiting_human(folded)
        elif self.state is State.OFFERING:
            self.offering(text, folded)

    @staticmethod
    def protocol_asked(text: str) -> str | None:
        """The protocol number a citizen asks about ("status do protocolo CAC-2026-000001",
        "PROCON 2026 000001?"), or ``None``."""
        upper = strip_invisible(text).upper().strip()
        found = PROTOCOL.search(upper)
        if found is None:
            return None
        number = f"{found['prefix']}-{found['year']}-{found['sequence']}"
        asking = any(word in upper for word in ("PROTOCOLO", "STATUS", "SITUA", "ANDAMENTO"))
        return number if asking or upper.strip(" ?!.") == found.group(0) else None

    # -- protocol status ------------------------------------------------------------
    def protocol_status(self, protocol: str) -> None:
        """Tell the stored status of a protocol; only the status, never the data."""
        found = self.tx.submission(protocol)
        if found is None:
            self.say(self.texts("protocol_unknown", protocol=protocol))
            return
        department = self.engine.registry.get(found["department"])
        self.say(
            self.texts(
                "protocol_status",
                protocol=protocol,
                department=department.name if department else found["department"],
                date=_when(self.local(found["created_at"])),
                status=self.texts(f"protocol_status_{found['status']}")
                if f"protocol_status_{found['status']}" in self.texts.catalog
                else found["status"],
            )
        )
        if self.state is State.IDENTIFYING:
            self.ask_identity()

    # -- identifying ----------------------------------------------------------------
    def ask_identity(self) -> None:
        self.say(self.texts("identify_ask"))

    def identify(self, text: str, *, opened: bool) -> None:
        if not self.engine.identifies:
            self.identified_next()
            return
        if fold(text) in CLOSE_WORDS:
            self.say(self.texts("goodbye"))
            self.move(State.CLOSED)
            return
        result = self.call(
            "identify_citizen", text=text, conversation=self.snapshot(), texts=self.texts
        )
        pending = self.context.get("pending_name")
        if not isinstance(result, Identity) and pending:
            # "Maria da Silva", then "529.982.247-25": the name came one message earlier.
            retry = self.call(
                "identify_citizen",
                text=f"{pending} {text}",
                conversation=self.snapshot(),
                texts=self.texts,
            )
            result = retry if isinstance(retry, Identity) else result
        if isinstance(result, Identity):
            self.context.pop("pending_name", None)
            self.register_citizen(result)
            return
        if looks_like_a_name(text):
            self.context["pending_name"] = strip_invisible(text).strip()
        if opened:
            self.say(self.texts("welcome", city=self.engine.config.city))
            if not any(ch.isdigit() for ch in text):
                self.ask_identity()
                return
        if isinstance(result, NotIdentified):
            self.say(result.reason)
        else:
            self.ask_identity()

    def register_citizen(self, identity: Identity) -> None:
        digits = identity.cpf
        problem = cpf.validate(digits)
        if problem is not None:  # a plugin returned a CPF we would refuse
            self.say(self.texts("identify_cpf_check_digits", cpf=digits))
            return
        citizen_id, known = self.tx.upsert_citizen(
            name=identity.name,
            cpf_hash=cpf.keyed_hash(digits, self.engine.secret),
            cpf_masked=cpf.mask(digits),
            now=self.now,
        )
        self.citizen_id = citizen_id
        self.context["name"] = identity.name
        first_name = identity.name.split()[0] if identity.name.split() else identity.name
        key = "identified_again" if known else "identified"
        self.say(self.texts(key, name=first_name, cpf=cpf.mask(digits)))
        self.identified_next()

    def identified_next(self) -> None:
        pinned = self.row["pinned_department"]
        if pinned and self.engine.registry.get(pinned):
            self.enter_department(pinned)
        else:
            self.to_menu()

    # -- choosing a department ------------------------------------------------------
    def menu_choices(self) -> tuple[Choice, ...]:
        return tuple(
            Choice(str(number), f"{d.name} — {d.description}" if d.description else d.name)
            for number, d in enumerate(self.engine.registry, start=1)
        )

    def to_menu(self) -> None:
        pinned = self.row["pinned_department"]
        if pinned and self.engine.registry.get(pinned):
            self.enter_department(pinned)
            return
        if len(self.engine.registry) == 1:  # a menu of one is no choice
            self.enter_department(self.engine.registry.slugs[0])
            return
        if not len(self.engine.registry):
            self.say(self.texts("no_departments"))
            self.to_human("")
            return
        self.move(State.CHOOSING)
        self.context.pop("form", None)
        self.say(self.texts("menu"), self.menu_choices())

    def route(self, text: str) -> str | None:
        slug = self.call(
            "route_message",
            text=text,
            departments=list(self.engine.registry),
            conversation=self.snapshot(),
        )
        return slug if self.engine.registry.get(slug) else None

    def choose(self, text: str) -> None:
        if fold(text) in NO_WORDS - {"2"}:  # "nada", "não": nothing more to ask
            self.to_rating()
            return
        slug = self.route(text)
        if slug is None:
            self.say(self.texts("menu_not_understood"), self.menu_choices())
            return
        self.enter_department(slug, text=None if fold(text).isdigit() else text)

    # -- inside a department --------------------------------------------------------
    def topic_choices(self, department: Department) -> tuple[Choice, ...]:
        return tuple(
            Choice(str(number), topic.title)
            for number, topic in enumerate(department.topics, start=1)
        )

    def enter_department(self, slug: str, text: str | None = None) -> None:
        """Enter a department; a routed sentence is passed on so it can act on it."""
        self.move(State.DEPARTMENT)
        self.department = slug
        self.context.pop("form", None)
        department = self.current
        assert department is not None
        if text is not None:
            action = self.department_action(department, text)
            if action is not None:
                self.apply(department, action)
                return
        self.say(
            department.greeting or self.texts("department_greeting", name=department.name),
            self.topic_choices(department),
        )

    def department_action(self, department: Department, text: str) -> Any:
        return self.call(
            "department_message",
            department=department,
            text=text,
            conversation=self.snapshot(),
            texts=self.texts,
            settings=self.engine.config.for_department(department.slug),
        )

    def in_department(self, text: str, folded: str) -> None:
        department = self.current
        if department is None:  # the department was disabled since
            self.to_menu()
            return
        if folded in THANKS_WORDS:
            self.offer_help()
            return
        action = self.department_action(department, text)
        if action is None:
            if not self.replies:
                self.say(self.texts("department_not_understood"), self.topic_choices(department))
            return
        self.apply(department, action)

    def apply(self, department: Department, action: Any) -> None:
        if isinstance(action, Answer):
            self.say(action.text, action.choices)
            if action.done:
                self.offer_help()
        elif isinstance(action, StartForm):
            self.start_form(department, action)
        elif isinstance(action, HandOver):
            self.to_human(action.text)
        else:
            log.error("department %s returned %r, not an action", department.slug, action)
            self.say(self.texts("plugin_failed"))

    # -- forms ----------------------------------------------------------------------
    def start_form(self, department: Department, action: StartForm) -> None:
        runner = self.engine.forms.get((department.slug, action.form))
        if runner is None:
            log.error("department %s has no form %r", department.slug, action.form)
            self.say(self.texts("plugin_failed"))
            return
        if action.text:
            self.say(action.text)
        self.move(State.FORM)
        self.context["form"] = {"name": action.form}
        self.form_result(department, runner.start())

    def fill_form(self, text: str) -> None:
        department = self.current
        form = self.context.get("form") or {}
        runner = self.engine.forms.get((self.department or "", form.get("name", "")))
        if department is None or runner is None:
            self.to_menu()
            return
        try:
            step = runner.step(form.get("progress", {}), text)
        except Exception:
            log.exception("form %s of %s failed", form.get("name"), department.slug)
            self.say(self.texts("plugin_failed"))
            return
        self.form_result(department, step)

    def form_result(self, department: Department, step: FormStep) -> None:
        for reply in step.replies:
            self.say(reply.text, reply.choices)
        name = self.context["form"]["name"]
        if step.status == "asking":
            self.context["form"]["progress"] = step.progress
        elif step.status == "submitted":
            self.context.pop("form", None)
            self.submit(department, name, step.data or {})
        elif step.status == "cancelled":
            self.context.pop("form", None)
            self.move(State.DEPARTMENT)
            self.say(self.texts("form_cancelled_menu"), self.topic_choices(department))
        elif step.status == "handover":
            self.context.pop("form", None)
            self.to_human("")

    def submit(self, department: Department, form: str, data: dict[str, Any]) -> None:
        year = self.local(self.now).year  # the city's year, not UTC's
        sequence = self.tx.next_protocol_sequence(department.prefix, year)
        protocol = (
            self.call(
                "protocol_number", department=department, form=form, year=year, sequence=sequence
            )
            or f"{department.prefix}-{year}-{sequence:06d}"
        )
        self.tx.add_submission(
            conversation_id=self.row["id"],
            department=department.slug,
            form=form,
            protocol=protocol,
            data=data,
            now=self.now,
        )
        self.context.setdefault("protocols", []).append(protocol)
        self.say(self.texts("form_submitted", protocol=protocol))
        extras = self.call(
            "form_submitted",
            department=department,
            form=form,
            data=data,
            protocol=protocol,
            conversation=self.snapshot(),
        )
        for extra in extras or []:
            if isinstance(extra, str) and extra:
                self.say(extra)
        self.offer_help()

    # -- humans ---------------------------------------------------------------------
    def to_human(self, text: str) -> None:
        self.move(State.HUMAN)
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
                hours=hours.describe(),
                next=_when(opening) if opening else self.texts("handover_next_unknown"),
            )
        )

    def waiting_human(self, folded: str) -> None:
        if folded in THANKS_WORDS:
            self.offer_help()
        # Otherwise the message waits for an attendant; civic stays quiet.

    # -- offering further help ------------------------------------------------------
    def yes_no_choices(self) -> tuple[Choice, ...]:
        return (Choice("1", self.texts("yes")), Choice("2", self.texts("no")))

    def offer_help(self) -> None:
        self.move(State.OFFERING)
        self.say(self.texts("offer_help"), self.yes_no_choices())

    def offering(self, text: str, folded: str) -> None:
        first = folded.split()[0] if folded else ""
        if folded in YES_WORDS or (first == "sim" and folded not in NO_WORDS):
            self.to_menu()
            return
        if folded in NO_WORDS or first == "nao":
            self.to_rating()
            return
        slug = self.route(text)
        if slug is not None:
            self.enter_department(slug, text=text)
            return
        department = self.current
        if department is not None:
            action = self.department_action(department, text)
            if action is not None:
                self.move(State.DEPARTMENT)
                self.apply(department, action)
                return
        self.say(self.texts("offer_help_again"), self.yes_no_choices())

    # -- the closing survey ---------------------------------------------------------
    def to_rating(self) -> None:
        survey = self.engine.config.survey
        self.move(State.RATING)
        self.context.pop("form", None)
        self.context["survey"] = {"step": "score", "attempts": 0}
        self.say(self.texts("rating_question", min=survey.scale_min, max=survey.scale_max))

    def rate(self, text: str) -> None:
        progress = self.context.setdefault("survey", {"step": "score", "attempts": 0})
        folded = fold(text)
        if progress["step"] == "score":
            self.rate_score(progress, text, folded)
        elif progress["step"] == "questions":
            self.survey_questions(progress, text)
        elif folded in YES_WORDS:  # "sim" to "do you want to leave a comment?"
            self.say(self.texts("comment_go_ahead"))
        elif folded in COMMENT_SKIP_WORDS | MENU_WORDS | CLOSE_WORDS | HUMAN_WORDS:
            self.finish(None)
        else:
            self.finish(strip_invisible(text).strip()[:4000])

    def rate_score(self, progress: dict[str, Any], text: str, folded: str) -> None:
        """The score question; the score is stored as soon as it is given."""
        survey = self.engine.config.survey
        if folded in MENU_WORDS and not progress.get("attempts"):
            self.context.pop("survey", None)  # the citizen wants something else after all
            self.to_menu()
            return
        if folded in HUMAN_WORDS:
            self.context.pop("survey", None)
            self.to_human("")
            return
        result = self.call(
            "score_rating",
            text=text,
            scale_min=survey.scale_min,
            scale_max=survey.scale_max,
            texts=self.texts,
        )
        if isinstance(result, int) and not isinstance(result, bool):
            if survey.scale_min <= result <= survey.scale_max:
                self.record(result, declined=False)
                if self.engine.survey_form is not None:
                    progress["step"] = "questions"
                    self.survey_step(progress, self.engine.survey_form.start())
                else:
                    progress["step"] = "comment"
                    self.say(self.texts("comment_question"))
                return
            result = None
        progress["attempts"] = progress.get("attempts", 0) + 1
        if result == "decline" or progress["attempts"] >= survey.max_attempts:
            self.record(None, declined=True)
            self.finish(None, declined=True)
            return
        reason = (
            result[len("refuse:") :]
            if isinstance(result, str) and result.startswith("refuse:")
            else self.texts("rating_not_understood", min=survey.scale_min, max=survey.scale_max)
        )
        self.say(reason)

    def survey_questions(self, progress: dict[str, Any], text: str) -> None:
        """The city's extra survey questions (a form), between the score and the comment."""
        runner = self.engine.survey_form
        if runner is None:  # the city removed them mid-conversation
            progress["step"] = "comment"
            self.say(self.texts("comment_question"))
            return
        self.survey_step(progress, runner.step(progress.get("progress", {}), text))

    def survey_step(self, progress: dict[str, Any], step: FormStep) -> None:
        if step.status == "asking":
            for reply in step.replies:
                self.say(reply.text, reply.choices)
            progress["progress"] = step.progress
            return
        # Submitted, or the citizen stopped: keep what was answered and move on.
        answers = step.data or step.progress.get("answers", {})
        self.tx.update_rating(self.row["id"], answers={**answers, "declined": False})
        progress.pop("progress", None)
        progress["step"] = "comment"
        self.say(self.texts("comment_question"))

    def record(self, score: int | None, *, declined: bool) -> None:
        """Store the rating now, so a citizen who stops answering still counts."""
        survey = self.engine.config.survey
        self.tx.add_rating(
            conversation_id=self.row["id"],
            department=self.department,
            score=score,
            scale_min=survey.scale_min,
            scale_max=survey.scale_max,
            comment=None,
            answers={"declined": declined},
            now=self.now,
        )

    def finish(self, comment: str | None, *, declined: bool = False) -> None:
        if comment:
            self.tx.update_rating(self.row["id"], comment=comment)
        self.context.pop("survey", None)
        self.say(self.texts("closing_declined" if declined else "closing_thanks"))
        self.move(State.CLOSED)
