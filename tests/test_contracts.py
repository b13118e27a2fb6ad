"""Contracts that fail loudly, naming the plugin: the values a plugin builds check their
fields when built; registration refuses clashes and records the plugin; a hook returning
the wrong type is logged with the plugin and the hook, and the citizen gets the default
behaviour; departments sharing routing words are reported."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from civic import (
    Answer,
    Choice,
    Department,
    HandOver,
    Identity,
    NotIdentified,
    StartForm,
    Topic,
    hookimpl,
    hookspecs,
)
from civic import departments as departments_module
from civic.departments import Problem, Registry, collect, routing_problems
from civic.engine import Engine
from civic.plugins import RETURNS, load_plugins
from civic.storage import Storage
from civic.values import ContractError
from tests.chat import MARIA, Chat
from tests.conftest import SECRET

FORM = {
    "title": "Manifestação",
    "type": "object",
    "properties": {"texto": {"title": "O que houve?", "type": "string"}},
    "required": ["texto"],
}
BASE: dict[str, Any] = {"slug": "ouvidoria", "name": "Ouvidoria", "protocol_prefix": "OUV"}


def registered(*plugins: tuple[str, object]) -> Registry:
    """Collect the departments with these ``(name, plugin)`` added to the defaults."""
    pm = load_plugins()
    for name, plugin in plugins:
        pm.register(plugin, name=name)
    try:
        return collect(pm)
    finally:
        for _, plugin in plugins:
            pm.unregister(plugin)


def registering(build: Callable[[], object]) -> object:
    """A plugin (without ``department_message``) whose ``register_departments`` registers
    what ``build()`` returns, built inside the hook as plugins usually do."""

    class Plugin:
        @hookimpl
        def register_departments(self, register: Callable[[object], None]) -> None:
            register(build())

    return Plugin()


# -- the values check their fields when built ------------------------------------------

DEPARTMENT_CASES = [
    ({"keywords": "denuncia"}, "keywords", "not the str 'denuncia': write keywords=('denuncia',)"),
    ({"keywords": ("elogio", "")}, "keywords", "must hold non-empty str only"),
    ({"keywords": ("elogio", 3)}, "keywords", "must hold non-empty str only, not int 3"),
    ({"keywords": 3}, "keywords", "must be a tuple of words, not int 3"),
    ({"topics": Topic("Elogiar", answer="Obrigado!")}, "topics", "add the trailing comma"),
    ({"topics": ("Elogiar",)}, "topics", "must hold Topic only, not str 'Elogiar'"),
    ({"slug": "Ouvidoria"}, "slug", "'Ouvidoria' is not valid: lower-case letters"),
    ({"slug": "ouvidoria geral"}, "slug", "is not valid"),
    ({"name": ""}, "name", "must not be empty"),
    ({"name": None}, "name", "must be a str, not NoneType"),
    ({"description": 3}, "description", "must be a str, not int 3"),
    ({"greeting": None}, "greeting", "must be a str"),
    ({"forms": ["manifestacao"]}, "forms", "must map form names to JSON Schemas"),
    ({"forms": {"manifestacao": "form.json"}}, "forms", "['manifestacao'] must be a JSON Schema"),
    ({"protocol_prefix": "1OUV"}, "protocol_prefix", "'1OUV' is not valid: a letter, then"),
    ({"protocol_prefix": "OUV 2"}, "protocol_prefix", "is not valid"),
    ({"protocol_prefix": 7}, "protocol_prefix", "must be a str, not int 7"),
    ({"order": "1"}, "order", "must be an int, not str '1'"),
    ({"order": True}, "order", "must be an int, not bool True"),
    ({"form_warnings": {"f": {"x": "aviso"}}}, "form_warnings", "['f']['x'] must be a function"),
    ({"form_warnings": {"f": None}}, "form_warnings", "['f'] must map field names"),
    ({"identification": "sim"}, "identification", "must be True or False, not str 'sim'"),
    ({"deadline_days": 0}, "deadline_days", "must be at least 1 day"),
    ({"deadline_days": True}, "deadline_days", "must be an int, not bool True"),
    ({"deadline_days": 30.0}, "deadline_days", "must be an int, not float 30.0"),
]


@pytest.mark.parametrize(("change", "field", "message"), DEPARTMENT_CASES)
def test_a_department_refuses_a_bad_value_when_built(
    change: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ContractError) as error:
        Department(**{**BASE, **change})
    assert error.value.field == field
    assert f": {field} " in str(error.value) and message in str(error.value)
    assert isinstance(error.value, TypeError) and isinstance(error.value, ValueError)


@pytest.mark.parametrize(("change", "field", "message"), DEPARTMENT_CASES)
def test_a_bad_department_is_reported_with_its_plugin_and_field(
    change: dict[str, Any], field: str, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    plugin = registering(lambda: Department(**{**BASE, **change}))
    with caplog.at_level(logging.WARNING):
        registry = registered(("civic_ouvidoria", plugin))
    assert "ouvidoria" not in registry.slugs and "cac" in registry.slugs
    (problem,) = registry.problems
    assert (problem.plugin, problem.what, problem.severity) == ("civic_ouvidoria", field, "error")
    assert message in str(problem) and "plugin civic_ouvidoria" in str(problem)
    assert "of plugin civic_ouvidoria left out: Department" in caplog.text
    assert f": {field} " in caplog.text


TOPIC_CASES = [
    ({"title": ""}, "title", "must not be empty"),
    ({"keywords": "elogio"}, "keywords", "write keywords=('elogio',)"),
    ({"answer": ""}, "answer", "must not be empty"),
    ({"answer": ["Obrigado"]}, "answer", "must be a str, not list"),
    ({"form": "manifestacao", "answer": "Conte."}, "form", "comes with an answer"),
    ({"form": "manifestacao", "handover": True, "answer": None}, "form", "with handover=True"),
    ({"handover": "sim"}, "handover", "must be True or False"),
    ({"key": "elogio.answer"}, "key", "'elogio.answer' is not valid: lower-case letters"),
]


@pytest.mark.parametrize(("change", "field", "message"), TOPIC_CASES)
def test_a_topic_refuses_a_bad_value_when_built(
    change: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ContractError) as error:
        Topic(**{"title": "Elogiar", "answer": "Obrigado!", **change})
    assert error.value.field == field and error.value.kind == "Topic"
    assert f": {field} " in str(error.value) and message in str(error.value)


@pytest.mark.parametrize(("change", "field", "message"), TOPIC_CASES)
def test_a_bad_topic_is_reported_with_its_plugin_and_field(
    change: dict[str, Any], field: str, message: str
) -> None:
    plugin = registering(
        lambda: Department(
            **BASE, topics=(Topic(**{"title": "Elogiar", "answer": "Obrigado!", **change}),)
        )
    )
    (problem,) = registered(("civic_ouvidoria", plugin)).problems
    assert (problem.plugin, problem.what) == ("civic_ouvidoria", field)
    assert "Topic" in str(problem) and message in str(problem)


@pytest.mark.parametrize(
    ("build", "field", "message"),
    [
        (lambda: Answer(None), "text", "must be a str, not NoneType"),
        (lambda: Answer("Oi", choices=Choice("1", "Sim")), "choices", "add the trailing comma"),
        (lambda: Answer("Oi", done="sim"), "done", "must be True or False"),
        (lambda: StartForm(""), "form", "must not be empty"),
        (lambda: HandOver(text=None), "text", "must be a str"),
        (lambda: Identity(name="Rita", cpf=52998224725), "cpf", "must be a str, not int"),
        (lambda: NotIdentified(""), "reason", "must not be empty"),
        (lambda: Choice(1, "Sim"), "value", "must be a str, not int 1"),
    ],
)
def test_the_values_hooks_return_check_their_fields(
    build: Callable[[], object], field: str, message: str
) -> None:
    with pytest.raises(ContractError) as error:
        build()
    assert error.value.field == field and message in str(error.value)


def test_lists_are_taken_as_tuples() -> None:
    department = Department(**BASE, keywords=["elogio"], topics=[Topic("Elogiar", answer="Ok")])
    assert department.keywords == ("elogio",) and isinstance(department.topics, tuple)
    assert Answer("Oi", choices=[Choice("1", "Sim")]).choices == (Choice("1", "Sim"),)


def test_a_handover_topic_may_say_something_first() -> None:
    topic = Topic("Falar com a ouvidoria", answer="Um momento.", handover=True)
    assert topic.action == "handover"


# -- registration: what needs the plugin or the other departments -----------------------


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"slug": "cac", "protocol_prefix": "CAC2"}, "slug", "slug already registered by cac"),
        ({"name": "procon"}, "name", "of department 'procon' of plugin procon"),
        ({"name": "JSM"}, "name", "already the name or slug of department 'jsm'"),
        ({"protocol_prefix": "cac"}, "protocol_prefix", "prefix 'CAC' is already used by"),
        ({"slug": "procon-x", "protocol_prefix": ""}, None, None),  # PROCON-X is its own
        ({"topics": (Topic("A", form="nenhum"),)}, "topics", "names unknown form 'nenhum'"),
        (
            {"topics": (Topic("A", answer="a", key="um"), Topic("B", answer="b", key="um"))},
            "topics",
            "two topics have the key 'um'",
        ),
        ({"topics": (Topic("Elogiar"),)}, "topics", "has no answer, form or handover"),
        (
            {"forms": {"manifestacao": FORM}, "form_warnings": {"outro": {"texto": len}}},
            "form_warnings",
            "names unknown form 'outro'",
        ),
        (
            {"forms": {"manifestacao": FORM}, "form_warnings": {"manifestacao": {"x": len}}},
            "form_warnings",
            "unknown field 'x' of form 'manifestacao'",
        ),
    ],
)
def test_registration_refuses_what_clashes_or_cannot_work(
    change: dict[str, Any], field: str | None, message: str | None
) -> None:
    department = Department(**{**BASE, **change})
    registry = registered(("civic_ouvidoria", registering(lambda: department)))
    if field is None:
        assert department.slug in registry.slugs and not registry.problems
        return
    (problem,) = registry.problems
    assert (problem.plugin, problem.department, problem.what) == (
        "civic_ouvidoria",
        department.slug,
        field,
    )
    assert message is not None and message in problem.reason
    assert registry.owners.get(department.slug) != "civic_ouvidoria"


def test_a_topic_without_action_is_fine_when_its_plugin_answers_it() -> None:
    class Plugin:
        @hookimpl
        def register_departments(self, register: Callable[[Department], None]) -> None:
            register(Department(**BASE, topics=(Topic("Elogiar"),)))

        @hookimpl
        def department_message(self, department: Department) -> Answer | None:
            return Answer("Obrigado!") if department.slug == "ouvidoria" else None

    registry = registered(("civic_ouvidoria", Plugin()))
    assert "ouvidoria" in registry.slugs and not registry.problems


def test_something_else_than_a_department_is_refused() -> None:
    (problem,) = registered(("civic_ouvidoria", registering(lambda: {"slug": "x"}))).problems
    assert problem.plugin == "civic_ouvidoria" and "is not a civic.Department" in problem.reason


def test_the_built_in_departments_keep_every_contract() -> None:
    registry = registered()
    assert registry.slugs == ["cac", "procon", "jsm"]
    assert registry.problems == []
    assert [p for p in registry.warnings if p.severity != "note"] == []


# -- routing words shared between departments -------------------------------------------


def test_a_shared_subject_word_is_a_warning_at_start_up(caplog: pytest.LogCaptureFixture) -> None:
    plugin = registering(lambda: Department(**BASE, keywords=("ouvidoria", "iptu", "elogio")))
    with caplog.at_level(logging.WARNING):
        registry = registered(("civic_ouvidoria", plugin))
    (warning,) = [p for p in registry.warnings if p.severity == "warning"]
    assert (warning.plugin, warning.department, warning.what) == (
        "civic_ouvidoria",
        "ouvidoria",
        "keywords",
    )
    assert warning.reason == "shares subject words with department 'cac' (plugin cac): 'iptu'"
    assert str(warning) in caplog.text
    explained = routing_problems(registry.departments, registry.owners, explain=True)
    assert any("'iptu' alone goes to cac" in p.reason for p in explained)


def test_a_department_its_keywords_never_reach_is_a_warning() -> None:
    plugin = registering(
        lambda: Department(slug="tributos", name="Tributos", keywords=("iptu", "imposto"))
    )
    registry = registered(("civic_tributos", plugin))
    assert "tributos" in registry.slugs  # a warning: it stays
    explained = routing_problems(registry.departments, registry.owners, explain=True)
    (shadowed,) = [p for p in explained if "menu number" in p.reason]
    assert (shadowed.plugin, shadowed.department, shadowed.severity) == (
        "civic_tributos",
        "tributos",
        "warning",
    )
    assert "none of its keywords routes to it alone" in shadowed.reason
    builtins = registered()
    assert not any(
        "menu number" in p.reason
        for p in routing_problems(builtins.departments, builtins.owners, explain=True)
    )


def test_shared_generic_words_are_notes() -> None:
    registry = registered()
    notes = routing_problems(registry.departments, registry.owners, explain=True)
    assert {p.severity for p in notes} == {"note"}
    procon = next(p for p in notes if p.department == "procon")
    assert "shares generic words with department 'cac'" in procon.reason
    assert "'reclamar' alone ties (civic asks which)" in procon.reason


def test_a_warning_is_logged_once_per_process(caplog: pytest.LogCaptureFixture) -> None:
    plugin = registering(lambda: Department(**BASE, keywords=("ouvidoria", "lixo", "iptu")))
    with caplog.at_level(logging.WARNING):
        registered(("civic_ouvidoria", plugin))
        registered(("civic_ouvidoria", plugin))
    assert caplog.text.count("shares subject words with department 'cac'") <= 1


def test_problem_reads_as_a_sentence() -> None:
    problem = Problem("civic_x", "x", "why", "keywords", "warning")
    assert str(problem) == "warning: plugin civic_x, department x: keywords: why"
    assert departments_module.SEVERITIES == ("error", "warning", "note")


# -- hooks returning the wrong type ------------------------------------------------------


def test_every_hook_whose_result_is_used_declares_what_it_returns() -> None:
    """A new hook returning something must say what (:data:`civic.plugins.RETURNS`)."""
    returning = set()
    for name in dir(hookspecs):
        function = getattr(hookspecs, name)
        returns = getattr(function, "__annotations__", {}).get("return")
        if hasattr(function, "civic_spec") and returns not in (None, "None"):
            returning.add(name)
    assert returning == set(RETURNS)


@pytest.fixture
def plugged(storage: Storage) -> Iterator[Callable[..., Engine]]:
    """Register named plugins for one test; an engine using them."""
    pm = load_plugins()
    added: list[object] = []

    def register(**plugins: object) -> Engine:
        for name, plugin in plugins.items():
            pm.register(plugin, name=name)
            added.append(plugin)
        return Engine(storage, secret=SECRET, manager=pm)

    try:
        yield register
    finally:
        for plugin in added:
            pm.unregister(plugin)


def logged(caplog: pytest.LogCaptureFixture, plugin: str, hook: str) -> str:
    """The one error naming ``plugin`` and ``hook``."""
    (message,) = [
        r.getMessage()
        for r in caplog.records
        if f"plugin {plugin} returned" in r.getMessage() and f"hook {hook}" in r.getMessage()
    ]
    return message


def test_department_message_returning_a_str(
    plugged: Callable[..., Engine], caplog: pytest.LogCaptureFixture
) -> None:
    class Plugin:
        @hookimpl
        def department_message(self) -> str:
            return "Resposta solta"

    chat = Chat(plugged(civic_loose=Plugin()))
    with caplog.at_level(logging.ERROR):
        answer = chat.script(MARIA, "2", "2")  # PROCON, its second topic
    assert "Compras feitas fora da loja" in answer and "Resposta solta" not in answer
    message = logged(caplog, "civic_loose", "department_message")
    assert "returned str[14]" in message and "Resposta solta" not in message
    assert "expects an Answer, a StartForm or a HandOver (or None): ignored" in message


def test_identify_citizen_returning_a_dict(
    plugged: Callable[..., Engine], caplog: pytest.LogCaptureFixture
) -> None:
    class Plugin:
        @hookimpl
        def identify_citizen(self) -> dict[str, str]:
            return {"name": "Rita", "cpf": "52998224725"}

    with caplog.at_level(logging.ERROR):
        answer = Chat(plugged(civic_dict=Plugin())).send(MARIA)
    assert "Obrigado, Maria!" in answer  # the built-in CPF identification
    assert "returned dict" in logged(caplog, "civic_dict", "identify_citizen")


def test_score_rating_returning_a_float(
    plugged: Callable[..., Engine], storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    class Plugin:
        @hookimpl
        def score_rating(self, text: str) -> float:
            return float(len(text))

    with caplog.at_level(logging.ERROR):
        Chat(plugged(civic_float=Plugin())).script(MARIA, "encerrar", "9", "não")
    with storage.reading() as tx:
        assert [r["score"] for r in tx.ratings()] == [9]
    assert "returned float 1.0" in logged(caplog, "civic_float", "score_rating")


def test_route_message_returning_an_int(
    plugged: Callable[..., Engine], caplog: pytest.LogCaptureFixture
) -> None:
    class Plugin:
        @hookimpl
        def route_message(self) -> int:
            return 3

    chat = Chat(plugged(civic_number=Plugin()))
    with caplog.at_level(logging.ERROR):
        chat.script(MARIA, "segunda via do iptu")
    assert chat.last.department == "cac"
    assert "returned int 3" in logged(caplog, "civic_number", "route_message")


def test_form_submitted_returning_an_int_keeps_the_others(
    plugged: Callable[..., Engine], caplog: pytest.LogCaptureFixture
) -> None:
    class Counter:
        @hookimpl
        def form_submitted(self) -> int:
            return 1

    class Note:
        @hookimpl
        def form_submitted(self) -> str:
            return "A equipe responde em até 5 dias."

    chat = Chat(plugged(civic_counter=Counter(), civic_note=Note()))
    with caplog.at_level(logging.ERROR):
        answer = chat.script(MARIA, "1", "1", "iluminação", "Poste apagado.", "Centro", "1", "1")
    assert "Seu protocolo é" in answer and "A equipe responde em até 5 dias." in answer
    assert "returned int 1" in logged(caplog, "civic_counter", "form_submitted")


def test_a_blank_name_from_the_city_keeps_the_registered_one(storage: Storage) -> None:
    """A city's ``[texts]`` cannot blank what a department must have (its name)."""
    from civic.config import Config

    engine = Engine(storage, secret=SECRET, config=Config(texts={"cac.name": " "}))
    department = engine.registry.get("cac")
    assert department is not None and department.name == "CAC"
