"""The conformance suite of a civic department, run with one class.

A department package (or civic itself, for its built-in departments) writes::

    from civic.testing import DepartmentConformance

    class TestOuvidoria(DepartmentConformance):
        department = "ouvidoria"

and pytest runs, against the installed plugin that registers ``ouvidoria`` (loaded alone
with civic's default plugins, on a temporary database):

``test_department_is_registered``
    the department is registered, valid, and civic did not leave it out.
``test_forms_are_valid_civic_forms``
    each form passes :func:`civic.forms.form_errors` with the installed formats.
``test_valid_answers_are_accepted[form]``
    answer sets drawn from the form (:func:`~civic.testing.strategies.form_answers`),
    typed as a citizen would type them, are accepted one by one through a real
    conversation, submitted, and stored normalised under a protocol.
``test_invalid_answers_are_refused[form]``
    before each valid answer, an answer the field must refuse is sent: the form refuses
    it with a message, asks the same question again, and never crashes.
``test_keywords_do_not_collide``
    the department's name and slug reach it; every word it shares with another
    installed department is reported (a warning) with what routing does with it.
``test_conversations_keep_the_engine_invariants``
    a stateful Hypothesis test: citizens send arbitrary messages (the department's
    words, commands, form-like answers, hostile text), attendants take, answer and
    close, time passes; civic never logs an error, only makes legal moves, stores every
    message and answers each one (or it waits for a person).

Class attributes tune it: ``plugins`` (other installed plugins the department needs),
``config`` (a ``civic.toml`` as a dict), ``form_openers`` (messages that open a form no
topic names), ``max_examples``, ``stateful_examples``, ``stateful_steps``, and
``known_failures`` (checks expected to fail, each with the reason, run as
``xfail(strict=True)``: when the bug is fixed the suite says so).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from civic.states import TRANSITIONS, WITH_TEAM, State
from civic.testing import strategies as cs
from civic.testing.harness import MARIA, Citizen, Harness
from civic.text import fold

if TYPE_CHECKING:
    import pluggy

    from civic.forms import FormRunner
    from civic.values import Department

__all__ = [
    "ConversationMachine",
    "DepartmentConformance",
    "KeywordOverlap",
    "KeywordOverlapWarning",
    "Registration",
    "installed_departments",
    "keyword_overlaps",
    "keyword_problems",
    "registration_of",
    "subject_of",
]


# -- what is installed ------------------------------------------------------------------


@attrs.frozen
class Registration:
    """A department as its plugin registered it (before civic checks it)."""

    department: Department
    plugin_name: str
    plugin: object


@functools.cache
def _installed() -> tuple[pluggy.PluginManager, dict[str, Registration]]:
    """Every installed plugin in one manager, and every department they register."""
    from civic.plugins import each_plugin
    from civic.testing.harness import build_manager
    from civic.values import Department

    manager = build_manager(installed=True)
    found: dict[str, Registration] = {}
    for name, caller in each_plugin("register_departments", manager):

        def register(department: object, name: str = name) -> None:
            if isinstance(department, Department) and department.slug not in found:
                found[department.slug] = Registration(department, name, manager.get_plugin(name))

        try:
            caller(register=register)
        except Exception:  # a broken plugin is the department's own test's business
            continue
    return manager, found


def installed_departments() -> dict[str, Registration]:
    """Every department the installed plugins register, by slug (computed once)."""
    return dict(_installed()[1])


# -- keyword collisions -------------------------------------------------------------------


class KeywordOverlapWarning(UserWarning):
    """A department shares routing words with another installed department; routing
    resolves it (the message says how)."""


@attrs.frozen
class KeywordOverlap:
    """A word a department claims that another installed department claims too, or
    that routing sends elsewhere when typed alone.

    :param word: the word, as the department lists it.
    :param shared_with: the other departments that list it (folded the same way).
    :param routed: what routing does with the word typed alone: a slug, a tuple of
        slugs (civic asks which one), or ``None`` (it shows the menu).
    """

    word: str
    shared_with: tuple[str, ...]
    routed: str | tuple[str, ...] | None

    def describe(self, slug: str) -> str:
        """One line: ``'reclamar' (also procon): asks which of cac, procon``."""
        also = f" (also {', '.join(self.shared_with)})" if self.shared_with else ""
        if self.routed == slug:
            outcome = f"routes to {slug}"
        elif isinstance(self.routed, tuple):
            outcome = f"asks which of {', '.join(self.routed)}"
        elif self.routed is None:
            outcome = "routes nowhere (the menu is shown)"
        else:
            outcome = f"routes to {self.routed}"
        return f"{self.word!r}{also}: {outcome}"


def _claims(department: Department) -> dict[str, str]:
    """The words routing reads for ``department``, folded → as listed: slug, name, its
    keywords and its topics' (topics that hand over to a person are left out)."""
    words = [department.slug, department.name, *department.keywords]
    words += [word for topic in department.topics if not topic.handover for word in topic.keywords]
    return {fold(word): word for word in reversed(words) if fold(word)}


def _route(
    manager: pluggy.PluginManager, departments: Sequence[Department], text: str
) -> str | tuple[str, ...] | None:
    from civic.reading import read
    from civic.values import Conversation

    conversation = Conversation(
        id=0,
        channel="test",
        address="conformance",
        state=State.CHOOSING.value,
        department=None,
        pinned_department=None,
        citizen_id=None,
        citizen_name=None,
        opened_at=dt.datetime.now(dt.UTC),
    )
    found: str | list[str] | tuple[str, ...] | None = manager.hook.route_message(
        text=text, departments=list(departments), conversation=conversation, message=read(text)
    )
    if isinstance(found, list | tuple):
        return tuple(found)
    return found


def keyword_overlaps(
    slug: str, departments: Sequence[Department], manager: pluggy.PluginManager
) -> list[KeywordOverlap]:
    """Each word ``slug`` claims (:func:`_claims`) that another of ``departments`` claims
    too, or that routing (``manager``'s ``route_message``) does not send to ``slug`` when
    typed alone; in the department's own order."""
    ours = next(d for d in departments if d.slug == slug)
    others = {d.slug: _claims(d) for d in departments if d.slug != slug}
    found = []
    for folded, word in _claims(ours).items():
        shared = tuple(other for other, words in others.items() if folded in words)
        routed = _route(manager, departments, word)
        if shared or routed != slug:
            found.append(KeywordOverlap(word, shared, routed))
    return found


def keyword_problems(
    slug: str, departments: Sequence[Department], manager: pluggy.PluginManager
) -> list[str]:
    """Collisions routing cannot resolve: the department's name or slug is another
    department's name or slug, or typed alone it does not reach the department."""
    ours = next(d for d in departments if d.slug == slug)
    problems = []
    for other in departments:
        if other.slug == slug:
            continue
        taken = {fold(other.slug), fold(other.name)} & {fold(ours.slug), fold(ours.name)}
        if taken:
            problems.append(f"{', '.join(sorted(taken))!r} names both {slug} and {other.slug}")
    for word in dict.fromkeys((ours.slug, ours.name)):
        routed = _route(manager, departments, word)
        if routed != slug:
            problems.append(f"{word!r} typed alone does not reach {slug}: routed to {routed!r}")
    return problems


# -- the stateful test ----------------------------------------------------------------------

#: Every state reachable from each state through legal moves (a message can make more
#: than one: a routed sentence goes from the menu into a department and into its form).
_REACHABLE: dict[State, frozenset[State]] = {}
for _state in State:
    _seen, _todo = {_state}, [_state]
    while _todo:
        for _next in TRANSITIONS[_todo.pop()]:
            if _next not in _seen:
                _seen.add(_next)
                _todo.append(_next)
    _REACHABLE[_state] = frozenset(_seen)

#: What citizens type at any point besides the department's own words.
COMMANDS = (
    "menu", "voltar", "atendente", "quero falar com um atendente", "encerrar", "sim", "não",
    "obrigado", "pular", "cancelar", "corrigir 1", "confirmar", "1", "2", "3", "0", "99",
    "nota 9", "dez", "11", "oi", "status do protocolo ABC-2026-000001",
)  # fmt: skip
#: What attendants write.
ATTENDANT_TEXTS = (
    "Bom dia! Como posso ajudar?",
    "Pode me mandar o número do pedido?",
    "Resolvido. Obrigada pelo contato!",
)


def _format_examples() -> list[str]:
    from civic import formats

    found = [fmt.example for fmt in formats.FORMATS.values()]
    return [*found, "15/03/2026", "R$ 10,00", "01/01/2999", "123", "xyz"]


def vocabulary(department: Department) -> st.SearchStrategy[str]:
    """What a citizen might send to ``department``: its words and topics, menu numbers,
    commands, form-like answers, a name and CPF, ordinary and hostile messages."""
    words = [department.slug, department.name, *department.keywords]
    for number, topic in enumerate(department.topics, 1):
        words += [str(number), topic.title, *topic.keywords]
    words += [*COMMANDS, *_format_examples()]
    known = st.sampled_from(list(dict.fromkeys(words)))
    topics = st.sampled_from(
        [str(n) for n in range(1, len(department.topics) + 1)]
        + [topic.title for topic in department.topics]
    )
    identity = st.one_of(st.just(MARIA), cs.identity_messages().map(lambda found: found[0]))
    return st.one_of(topics, known, identity, cs.citizen_messages())


class ConversationMachine(RuleBasedStateMachine):
    """Two citizens talk to one department while attendants work and time passes.

    Set :attr:`harness` and :attr:`messages` on a subclass (the conformance suite does);
    every rule checks civic's promises after it acts.
    """

    harness: ClassVar[Harness]
    messages: ClassVar[st.SearchStrategy[str]]
    pinned: ClassVar[str | None] = None

    def __init__(self) -> None:
        super().__init__()
        self.people: list[Citizen] = []
        self.sent: list[tuple[Citizen, str, tuple[Any, ...]]] = []
        self.counter = 0

    @initialize()
    def two_citizens(self) -> None:
        """Two new addresses (fresh conversations on the class's shared database)."""
        self.people = [self.harness.citizen(pinned=self.pinned) for _ in range(2)]

    # -- citizens ---------------------------------------------------------------------
    @rule(who=st.integers(0, 1), data=st.data())
    def citizen_writes(self, who: int, data: st.DataObject) -> None:
        """A citizen sends anything from :attr:`messages`."""
        self._send(self.people[who], data.draw(self.messages, label="message"))

    @precondition(lambda self: self._in(State.FORM))
    @rule(data=st.data(), count=st.integers(1, 30))
    def citizen_answers_the_form(self, data: st.DataObject, count: int) -> None:
        """Up to ``count`` valid answers in a row to the questions asked (and "1",
        confirm, at the summary), so conversations get through forms to a protocol."""
        citizen = data.draw(st.sampled_from(self._in(State.FORM)), label="who")
        for _ in range(count):
            view = citizen.form()
            if view is None:
                return
            text = "1"
            if view.stage == "field" and view.field:
                runner = self.harness.engine.forms.get((citizen.department or "", view.name))
                if runner is not None and view.field in runner.fields:
                    prop = runner.fields[view.field].schema
                    value = data.draw(cs.field_values(prop, form=runner, today=self._today()))
                    text = data.draw(cs.typed_answer(prop, value, texts=runner.texts))
            elif view.stage == "which":
                text = "voltar"
            self._send(citizen, text)

    def _today(self) -> dt.date:
        import zoneinfo

        zone = zoneinfo.ZoneInfo(self.harness.engine.config.hours.timezone)
        return self.harness.now.astimezone(zone).date()

    def _send(self, citizen: Citizen, text: str) -> None:
        """Send ``text`` and check what civic promises about one message."""
        before = self._open_state(citizen)
        self.counter += 1
        message_id = f"{citizen.address}-{self.counter}"
        citizen.say(text, message_id=message_id)
        outcome = citizen.last
        assert outcome is not None and not outcome.duplicate
        where = citizen.conversation_so_far()
        assert outcome.state in {state.value for state in State}, where
        assert outcome.replies or State(outcome.state) in WITH_TEAM, (
            f"the message {text[:80]!r} got no answer, and nobody on the team has it\n{where}"
        )
        with self.harness.storage.reading() as tx:
            stored = tx.inbound_message_id(citizen.channel, message_id)
            assert stored is not None, f"the message {text[:80]!r} was not stored\n{where}"
            kept = tx.outbox_for(stored)
        assert len(kept) == len(outcome.replies), f"replies not in the outbox\n{where}"
        if before is not None and outcome.conversation_id == before[0]:
            assert State(outcome.state) in _REACHABLE[before[1]], (
                f"illegal move {before[1].value} -> {outcome.state}\n{where}"
            )
        self.sent.append((citizen, message_id, outcome.replies))
        event(f"a message left the conversation in {outcome.state}")

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def channel_delivers_again(self, data: st.DataObject) -> None:
        """A channel delivers a message again (a retry): nothing is stored twice and the
        first replies come back, to be sent if they were not."""
        citizen, message_id, replies = data.draw(st.sampled_from(self.sent), label="retry")
        with self.harness.storage.reading() as tx:
            before = tx.count_messages()
        with self.harness.watching(citizen):
            outcome = self.harness.engine.handle(_inbound(citizen, "outra vez", message_id))
        assert outcome.duplicate and outcome.replies == replies
        with self.harness.storage.reading() as tx:
            assert tx.count_messages() == before, "a repeated delivery was stored again"

    # -- the team ---------------------------------------------------------------------
    def _in(self, *states: State) -> list[Citizen]:
        return [c for c in self.people if c.conversation_id and c.state in states]

    @precondition(lambda self: self._in(State.HUMAN))
    @rule(data=st.data())
    def attendant_takes(self, data: st.DataObject) -> None:
        """An attendant takes a conversation waiting in the queue."""
        citizen = data.draw(st.sampled_from(self._in(State.HUMAN)), label="who")
        self.harness.attendant("Ana").take(who=citizen)
        assert citizen.state == State.AGENT

    @precondition(lambda self: self._in(State.HUMAN, State.AGENT))
    @rule(data=st.data(), text=st.sampled_from(ATTENDANT_TEXTS))
    def attendant_replies(self, data: st.DataObject, text: str) -> None:
        """The attendant (or, for a waiting conversation, Ana) writes; the citizen gets it."""
        citizen = data.draw(st.sampled_from(self._in(State.HUMAN, State.AGENT)), label="who")
        agent = self._agent_of(citizen)
        got = self.harness.attendant(agent).reply(text, who=citizen)
        assert text in got and citizen.state == State.AGENT

    @precondition(lambda self: self._in(State.HUMAN, State.AGENT))
    @rule(data=st.data())
    def attendant_closes(self, data: st.DataObject) -> None:
        """The attendant is done: the citizen is asked for a score."""
        citizen = data.draw(st.sampled_from(self._in(State.HUMAN, State.AGENT)), label="who")
        got = self.harness.attendant(self._agent_of(citizen)).close(who=citizen)
        assert got and citizen.state == State.RATING

    @precondition(lambda self: self._in(State.AGENT))
    @rule(data=st.data())
    def attendant_releases(self, data: st.DataObject) -> None:
        """The attendant gives the conversation back to the queue."""
        citizen = data.draw(st.sampled_from(self._in(State.AGENT)), label="who")
        self.harness.attendant(self._agent_of(citizen)).release(who=citizen)
        assert citizen.state == State.HUMAN

    def _agent_of(self, citizen: Citizen) -> str:
        found = self.harness.engine.conversation(citizen.conversation_id or 0)
        return (found.agent if found is not None else None) or "Ana"

    # -- time -------------------------------------------------------------------------
    @rule(hours=st.sampled_from([0.01, 0.5, 1, 3, 13, 25]))
    def time_passes(self, hours: float) -> None:
        """The clock moves on; conversations left quiet too long expire."""
        self.harness.advance(hours=hours)
        closed = set(self.harness.expire())
        for citizen in self.people:
            if citizen.conversation_id in closed:
                assert citizen.state == State.CLOSED

    # -- what always holds ------------------------------------------------------------
    def _open_state(self, citizen: Citizen) -> tuple[int, State] | None:
        if citizen.conversation_id is None:
            return None
        found = self.harness.engine.conversation(citizen.conversation_id)
        if found is None or found.state == State.CLOSED:
            return None
        return found.id, State(found.state)

    @invariant()
    def conversations_are_consistent(self) -> None:
        """Every stored state is legal, a closed conversation has its ``closed_at``, an
        address has at most one open conversation."""
        with self.harness.storage.reading() as tx:
            for citizen in self.people:
                rows = [tx.conversation(cid) for cid in citizen.conversations]
                legal = {state.value for state in State}
                assert all(row is not None and row["state"] in legal for row in rows)
                stored = [row for row in rows if row is not None]
                assert all((r["state"] == "closed") == (r["closed_at"] is not None) for r in stored)
                assert sum(r["closed_at"] is None for r in stored) <= 1, "two open conversations"


def _inbound(citizen: Citizen, text: str, message_id: str) -> Any:
    from civic.values import Inbound

    return Inbound(
        channel=citizen.channel,
        address=citizen.address,
        text=text,
        channel_message_id=message_id,
        pinned_department=citizen.pinned,
    )


# -- the suite ------------------------------------------------------------------------------


@attrs.define
class _Subject:
    """What the suite tests: the department, its plugin, a harness built once."""

    slug: str
    registration: Registration
    harness: Harness

    @property
    def department(self) -> Department:
        """The department as the engine serves it (localised), failing clearly when civic
        left it out."""
        found = self.harness.engine.registry.get(self.slug)
        if found is None:
            reasons = [
                p.reason for p in self.harness.engine.registry.problems if p.department == self.slug
            ]
            pytest.fail(
                f"civic left department {self.slug!r} out: {'; '.join(reasons) or 'unknown'}"
            )
        return found

    def runner(self, form: str) -> FormRunner:
        """The engine's runner of one of the department's forms."""
        self.department  # noqa: B018 - fails clearly when the department is missing
        return self.harness.form_runner(self.slug, form)


def registration_of(suite: type[DepartmentConformance]) -> Registration | None:
    """The registration of the department a conformance class tests: from its
    :attr:`~DepartmentConformance.plugin` when set, else from the installed plugins."""
    if suite.plugin is None:
        return installed_departments().get(suite.department)
    from civic.plugins import each_plugin
    from civic.testing.harness import build_manager
    from civic.values import Department

    manager = build_manager([suite.plugin])
    found: list[Registration] = []
    own = manager.get_name(suite.plugin) or ""
    for name, caller in each_plugin("register_departments", manager):
        if name != own:
            continue

        def register(department: object) -> None:
            if isinstance(department, Department) and department.slug == suite.department:
                found.append(Registration(department, own, suite.plugin))

        caller(register=register)
    return found[0] if found else None


@contextlib.contextmanager
def subject_of(suite: type[DepartmentConformance]) -> Iterator[_Subject]:
    """What a conformance class tests: its department's registration and a harness with
    its plugin (closed at the end)."""
    if not suite.department:
        pytest.fail(f'{suite.__name__}: set `department = "<slug>"`')
    registration = registration_of(suite)
    if registration is None:
        known = ", ".join(sorted(installed_departments())) or "none"
        where = "its `plugin`" if suite.plugin is not None else "no installed plugin"
        pytest.fail(
            f"{where} registers department {suite.department!r} (installed: {known}); "
            "is the package installed (pip install -e .) with a `civic` entry point?"
        )
    installed: bool | Sequence[str] = True if suite.plugins is None else list(suite.plugins)
    harness = Harness(registration.plugin, installed=installed, config=suite.config)
    try:
        yield _Subject(suite.department, registration, harness)
    finally:
        harness.close()


class DepartmentConformance:
    """Subclass it (named ``Test...``) and set :attr:`department`: pytest runs civic's
    conformance checks against the installed plugin that registers it. See the module
    documentation and ``docs/testing.md``."""

    #: The slug of the department under test.
    department: ClassVar[str] = ""
    #: The plugin under test (a module, or an object with ``@hookimpl`` methods) when it
    #: is not installed; by default, the installed plugin that registers :attr:`department`.
    plugin: ClassVar[object | None] = None
    #: Other installed plugins (entry-point names) to load with the department's own;
    #: ``None`` loads every installed plugin.
    plugins: ClassVar[Sequence[str] | None] = ()
    #: The city's configuration for the harness, shaped like ``civic.toml``.
    config: ClassVar[Mapping[str, Any] | None] = None
    #: Messages that open a form, for a form no topic names (by form name).
    form_openers: ClassVar[Mapping[str, Sequence[str]]] = {}
    #: Answer sets walked through each form, per check.
    max_examples: ClassVar[int] = 6
    #: Conversations of the stateful test, and steps in each.
    stateful_examples: ClassVar[int] = 10
    stateful_steps: ClassVar[int] = 25
    #: More Hypothesis settings for every check (``{"derandomize": True}``...).
    hypothesis_settings: ClassVar[Mapping[str, Any]] = {}
    #: Checks expected to fail, run as ``xfail(strict=True)``: ``{"test_name": reason}``
    #: or, for one form, ``{"test_name[form]": reason}``.
    known_failures: ClassVar[Mapping[str, str]] = {}

    # -- parametrisation --------------------------------------------------------------
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Parametrise each check with its case (the department, or one of its forms),
        and mark the known failures."""
        if "civic_case" not in metafunc.fixturenames:
            return
        slug = type(self).department
        name = metafunc.function.__name__
        if "civic_form" in metafunc.fixturenames:
            registration = registration_of(type(self))
            forms = list(registration.department.forms) if registration else []
            cases = [(form, f"{name}[{form}]", f"{slug}/{form}") for form in forms]
            metafunc.parametrize(
                ("civic_case", "civic_form"),
                [
                    pytest.param(case, form, marks=self._marks(key), id=case)
                    for form, key, case in cases
                ],
            )
        else:
            metafunc.parametrize(
                "civic_case", [pytest.param(slug, marks=self._marks(name), id=slug)]
            )

    def _marks(self, key: str) -> list[pytest.MarkDecorator]:
        reason = type(self).known_failures.get(key)
        return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []

    @pytest.fixture(scope="class")
    @classmethod
    def civic_subject(cls) -> Iterator[_Subject]:
        """The department's registration and a harness with its plugin, once per class."""
        with subject_of(cls) as found:
            yield found

    def _settings(self, **extra: Any) -> settings:
        """Bounded examples, no deadline (a conversation touches a database); the rest
        of the loaded Hypothesis profile (``derandomize`` in CI...) applies."""
        chosen: dict[str, Any] = {
            "max_examples": type(self).max_examples,
            "deadline": None,
            "suppress_health_check": [
                HealthCheck.too_slow,
                HealthCheck.filter_too_much,
                HealthCheck.data_too_large,
                HealthCheck.function_scoped_fixture,
            ],
        }
        return settings(**{**chosen, **extra, **type(self).hypothesis_settings})

    # -- the checks -------------------------------------------------------------------
    def test_department_is_registered(self, civic_subject: _Subject, civic_case: str) -> None:
        """civic registers the department: its slug, name and topics are usable."""
        from civic import departments

        problem = departments.check(
            civic_subject.registration.department, self._formats(civic_subject)
        )
        assert problem is None, f"department {civic_case!r}: {problem}"
        department = civic_subject.department
        assert department.name.strip()
        for topic in department.topics:
            assert topic.title.strip(), f"a topic of {civic_case} has no title"

    def test_forms_are_valid_civic_forms(self, civic_subject: _Subject, civic_case: str) -> None:
        """Each form is a valid civic form with the installed formats."""
        from civic.forms import form_errors

        department = civic_subject.registration.department
        errors = {
            name: form_errors(schema, formats=self._formats(civic_subject))
            for name, schema in department.forms.items()
        }
        assert not any(errors.values()), {name: found for name, found in errors.items() if found}

    def test_valid_answers_are_accepted(
        self, civic_subject: _Subject, civic_case: str, civic_form: str
    ) -> None:
        """Valid answer sets, typed as a citizen would, are accepted field by field and
        stored normalised under the protocol the citizen is given."""
        runner = civic_subject.runner(civic_form)

        @self._settings()
        @given(data=st.data())
        def walk(data: st.DataObject) -> None:
            answers = data.draw(
                cs.form_answers(runner, today=self._today(civic_subject)), label="answers"
            )
            typed = data.draw(cs.typed_answers(runner, answers), label="typed")
            self._walk(civic_subject, civic_form, runner, answers, typed, {})

        walk()

    def test_invalid_answers_are_refused(
        self, civic_subject: _Subject, civic_case: str, civic_form: str
    ) -> None:
        """Before each valid answer, one the field must refuse: the form says why and asks
        the same question again; the valid answer then goes through."""
        runner = civic_subject.runner(civic_form)
        today = self._today(civic_subject)
        wrong = {
            name: cs.invalid_answer_texts(field.schema, today=today, texts=runner.texts)
            for name, field in runner.fields.items()
        }

        @self._settings()
        @given(data=st.data())
        def walk(data: st.DataObject) -> None:
            answers = data.draw(cs.form_answers(runner, today=today), label="answers")
            typed = data.draw(cs.typed_answers(runner, answers), label="typed")
            invalid = {
                name: data.draw(st.sampled_from(found), label=f"invalid {name}")
                for name, found in wrong.items()
                if found
            }
            self._walk(civic_subject, civic_form, runner, answers, typed, invalid)

        walk()

    def test_keywords_do_not_collide(self, civic_subject: _Subject, civic_case: str) -> None:
        """The department's name and slug reach it among every installed department;
        the words it shares with them are reported with what routing does."""
        from civic import departments

        manager, _ = _installed()
        registry = departments.collect(manager)
        ours = civic_subject.registration.department
        everyone = [ours if d.slug == civic_case else d for d in registry]
        if ours not in everyone:
            everyone.append(ours)
        problems = keyword_problems(civic_case, everyone, manager)
        assert not problems, problems
        overlaps = keyword_overlaps(civic_case, everyone, manager)
        if overlaps:
            lines = "\n  ".join(overlap.describe(civic_case) for overlap in overlaps)
            warnings.warn(
                KeywordOverlapWarning(
                    f"{civic_case}: {len(overlaps)} routing word(s) shared or routed "
                    f"elsewhere:\n  {lines}"
                ),
                stacklevel=1,
            )

    def test_conversations_keep_the_engine_invariants(
        self, civic_subject: _Subject, civic_case: str
    ) -> None:
        """Arbitrary conversations with the department (a stateful Hypothesis test)."""
        cls = type(self)
        machine = type(
            f"{civic_case.capitalize()}Conversations",
            (ConversationMachine,),
            {
                "harness": civic_subject.harness,
                "messages": vocabulary(civic_subject.department),
                "pinned": civic_case if len(civic_subject.harness.engine.registry) > 1 else None,
            },
        )
        run_state_machine_as_test(
            machine,
            settings=self._settings(
                max_examples=cls.stateful_examples, stateful_step_count=cls.stateful_steps
            ),
        )

    # -- helpers ----------------------------------------------------------------------
    @staticmethod
    def _formats(subject: _Subject) -> frozenset[str]:
        from civic.forms import build_format_checker

        return frozenset(build_format_checker(subject.harness.manager).checkers)

    @staticmethod
    def _today(subject: _Subject) -> dt.date:
        import zoneinfo

        zone = zoneinfo.ZoneInfo(subject.harness.engine.config.hours.timezone)
        return subject.harness.now.astimezone(zone).date()

    def _open(self, subject: _Subject, form: str) -> Citizen:
        """A new citizen in ``form``: identified, in the department, the form opened by
        its topic's number (or by :attr:`form_openers`)."""
        citizen = subject.harness.citizen(pinned=subject.slug)
        citizen.say(MARIA)
        openers = type(self).form_openers.get(form)
        if openers is None:
            topics = subject.department.topics
            numbers = [str(n) for n, topic in enumerate(topics, 1) if topic.form == form]
            if not numbers:
                pytest.fail(
                    f"no topic of {subject.slug} opens form {form!r}: set "
                    f"form_openers = {{{form!r}: [<messages that open it>]}}"
                )
            openers = numbers[:1]
        for text in openers:
            citizen.say(text)
        view = citizen.form()
        if view is None or view.name != form:
            pytest.fail(f"form {form!r} did not open\n{citizen.conversation_so_far()}")
        return citizen

    def _walk(
        self,
        subject: _Subject,
        form: str,
        runner: FormRunner,
        answers: Mapping[str, Any],
        typed: Mapping[str, str],
        invalid: Mapping[str, str],
    ) -> None:
        """Answer ``form`` field by field (each of ``invalid`` first), confirm, and check
        the stored submission."""
        citizen = self._open(subject, form)
        skip = _skip_word(runner.texts)
        probed: set[str] = set()
        for _ in range(4 * len(runner.fields) + 4):
            view = citizen.form()
            assert view is not None, (
                f"the form ended before its summary\n{citizen.conversation_so_far()}"
            )
            if view.stage == "summary":
                break
            assert view.stage == "field" and view.field, f"unexpected stage {view.stage!r}"
            name = view.field
            if name in invalid and name not in probed:
                probed.add(name)
                self._refused(citizen, runner, name, invalid[name], view.answers)
            text = typed.get(name, skip)
            reply = citizen.say(text)
            after = citizen.form()
            assert after is None or after.stage != "field" or after.field != name, (
                f"field {name!r} refused {text!r} (meant {answers.get(name)!r}): {reply!r}\n"
                + citizen.conversation_so_far()
            )
        else:
            pytest.fail(f"the form never reached its summary\n{citizen.conversation_so_far()}")
        before = set(citizen.protocols)
        reply = citizen.say("1")
        assert citizen.form() is None, f"confirming did not submit\n{citizen.conversation_so_far()}"
        new = [p for p in citizen.protocols if p not in before]
        assert len(new) == 1, f"no protocol after confirming\n{citizen.conversation_so_far()}"
        submission = citizen.submission(new[0])
        assert submission.protocol in reply, f"the protocol was not told: {reply!r}"
        expected = dict(answers)
        for name, field in runner.fields.items():
            if (
                name not in expected
                and "default" in field.schema
                and runner.visible(name, expected)
            ):
                expected[name] = field.schema["default"]
        assert dict(submission.data) == expected, citizen.conversation_so_far()
        problems = [error.message for error in runner.validator.iter_errors(dict(submission.data))]
        assert not problems, problems

    @staticmethod
    def _refused(
        citizen: Citizen, runner: FormRunner, name: str, text: str, answers: Mapping[str, Any]
    ) -> None:
        reply = citizen.say(text)
        after = citizen.form()
        where = citizen.conversation_so_far()
        assert after is not None and after.stage == "field" and after.field == name, (
            f"field {name!r} accepted {text!r}, which it must refuse\n{where}"
        )
        assert after.answers.get(name) == answers.get(name), f"{text!r} was stored\n{where}"
        title = runner.fields[name].title
        assert title in reply, f"the question was not asked again after {text!r}\n{where}"
        assert reply.index(title) > 0, f"{text!r} was refused without a reason\n{where}"


def _skip_word(texts: Any) -> str:
    """The first word that skips an optional question (``pular`` in Portuguese), from
    the catalogue whether it holds a comma-separated text or a word list."""
    for key in ("form_words_skip", "words.form_skip", "words.skip"):
        value = texts.catalog.get(key)
        words = value.split(",") if isinstance(value, str) else list(value or ())
        for word in words:
            if str(word).strip():
                return str(word).strip()
    return "pular"
