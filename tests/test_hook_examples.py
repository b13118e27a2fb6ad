"""What a plugin author reads is true: every hook's example runs, and the guides in docs/
name every value field, form keyword, format and routing word the code has (issue 11).

Each hook's docstring ends with an ``Example::`` block (shown in docs/plugin_hooks.md).
Here every example is executed as a module, registered on a plugin manager (pluggy
checks its hook and argument names) and called the way civic calls it; a test per hook,
``test_example_<hook>``, says what it must do.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import json
import logging
import re
import sys
import textwrap
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pluggy
import pytest
import typer
from typer.testing import CliRunner

from civic import Answer, Department, Identity, NotIdentified, departments, hookspecs
from civic.channels import Outgoing, Sent, collect_channels
from civic.config import CORE_DEPARTMENT_KEYS, DepartmentConfig, parse_config, settings_problems
from civic.default_plugins.routing import GENERIC
from civic.engine import Engine
from civic.formats import FORMATS
from civic.forms import build_format_checker, form_errors, form_meta_schema
from civic.plugins import load_plugins, make_manager, new_manager
from civic.reading import read
from civic.report import Aggregate, ReportScope, build_report
from civic.storage import Storage
from civic.texts import Texts, catalogue_packages
from civic.values import Conversation, Delivery, Reply
from tests.chat import MARIA, Chat

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
NOW = dt.datetime(2026, 3, 16, 13, 0, tzinfo=dt.UTC)


def hook_functions() -> dict[str, Callable[..., Any]]:
    return {
        name: function
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, "civic_spec")
    }


def example_code(name: str) -> str:
    """The code of the hook's ``Example::`` block (as docs/generate_hooks.py reads it)."""
    doc = inspect.cleandoc(hook_functions()[name].__doc__ or "")
    _, found, example = doc.partition("\nExample::\n")
    assert found, f"the docstring of {name} has no Example:: block"
    return textwrap.dedent(example).strip("\n")


def load_example(name: str) -> types.ModuleType:
    """The hook's example, executed as a module of its own."""
    module = types.ModuleType(f"civic_example_{name}")
    exec(compile(example_code(name), f"<example of {name}>", "exec"), module.__dict__)
    return module


def alone(name: str) -> tuple[types.ModuleType, pluggy.PluginManager]:
    """The example registered on a manager with no other plugin, checked by pluggy."""
    module = load_example(name)
    manager = new_manager()
    manager.register(module)
    manager.check_pending()
    return module, manager


@pytest.fixture
def with_example(storage: Storage) -> Iterator[Callable[[str], Engine]]:
    """An engine over every installed plugin and one hook example (removed afterwards)."""
    manager = load_plugins()
    added: list[object] = []

    def build(name: str) -> Engine:
        module = load_example(name)
        manager.register(module)
        added.append(module)
        manager.check_pending()
        return Engine(storage, secret=b"test-secret", manager=manager)

    try:
        yield build
    finally:
        for module in added:
            manager.unregister(module)


def conversation(channel: str = "whatsapp", department: str | None = "cac") -> Conversation:
    return Conversation(
        id=7,
        channel=channel,
        address="5535999990000",
        state="waiting_human",
        department=department,
        pinned_department=None,
        citizen_id=1,
        citizen_name="Maria",
        opened_at=NOW,
    )


BUILT_IN = departments.collect(load_plugins())


def department(slug: str) -> Department:
    found = BUILT_IN.get(slug)
    assert found is not None
    return found


# -- the examples exist, are shown, and are each exercised ------------------------------


@pytest.mark.parametrize("name", sorted(hook_functions()))
def test_every_hook_has_an_example_shown_in_the_reference(name: str) -> None:
    reference = (DOCS / "plugin_hooks.md").read_text(encoding="utf-8")
    assert f"```python\n{example_code(name)}\n```" in reference


def test_every_example_has_its_test() -> None:
    tests = {name for name in globals() if name.startswith("test_example_")}
    assert tests == {f"test_example_{name}" for name in hook_functions()}


# -- registration -----------------------------------------------------------------------


def test_example_register_departments(with_example: Callable[[str], Engine]) -> None:
    engine = with_example("register_departments")
    ouvidoria = engine.registry.get("ouvidoria")
    assert ouvidoria is not None and not ouvidoria.identification
    assert engine.registry.owners["ouvidoria"] == "civic_example_register_departments"
    chat = Chat(engine)
    chat.script(MARIA, "quero fazer um elogio")
    assert chat.last is not None and chat.last.department == "ouvidoria"


def test_example_register_commands() -> None:
    _, manager = alone("register_commands")
    cli = typer.Typer()

    @cli.callback()
    def main() -> None:
        """A group, as civic's command line is."""

    manager.hook.register_commands(cli=cli)
    result = CliRunner().invoke(cli, ["hello", "Maria"])
    assert result.exit_code == 0 and result.stdout == "Olá, Maria!\n"


def test_example_register_format_checkers() -> None:
    _, manager = alone("register_format_checkers")
    checker = build_format_checker(manager)
    assert checker.conforms("12345678", "inscricao-imobiliaria")
    assert not checker.conforms("1234-5678", "inscricao-imobiliaria")
    form = {
        "title": "IPTU",
        "properties": {"inscricao": {"title": "Inscrição?", "format": "inscricao-imobiliaria"}},
    }
    assert form_errors(form, formats=checker.checkers) == []


def test_example_register_texts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = example_code("register_texts")
    catalogue = re.search(r"^# (\{.*\})$", code, re.M)
    assert catalogue, "the example shows its catalogue"
    package = tmp_path / "civic_example_biblioteca"
    (package / "locales" / "pt-BR").mkdir(parents=True)
    (package / "__init__.py").write_text(code, encoding="utf-8")
    (package / "locales" / "pt-BR" / "biblioteca.json").write_text(
        catalogue.group(1), encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        module = __import__("civic_example_biblioteca")
        manager = new_manager()
        manager.register(module)
        manager.check_pending()
        texts = Texts(packages=catalogue_packages(manager))
        renewed = texts("biblioteca.renewed", date="10/04")
        assert renewed == "Renovação feita: devolva o livro até 10/04."
    finally:
        sys.modules.pop("civic_example_biblioteca", None)


def test_example_register_channels() -> None:
    _, manager = alone("register_channels")
    channel = collect_channels(manager)["sms"]
    sent: list[dict[str, Any]] = []

    class Http:
        async def post(self, url: str, json: dict[str, Any]) -> Any:
            sent.append(json)
            return types.SimpleNamespace(status_code=200, text="")

    host = types.SimpleNamespace(http=Http())
    outgoing = Outgoing(Delivery(id=1, reply=Reply("Olá!")), address="5535999990000")
    assert channel.sender is not None
    assert asyncio.run(channel.sender(host, outgoing)) == Sent(ok=True, error="", retry=True)  # type: ignore[arg-type]
    assert sent == [{"to": "5535999990000", "text": "Olá!"}]


# -- identification and routing ---------------------------------------------------------


def test_example_identify_citizen() -> None:
    _, manager = alone("identify_citizen")

    def identify(text: str, channel: str) -> Any:
        return manager.hook.identify_citizen(
            text=text, conversation=conversation(channel), texts=Texts(), message=read(text)
        )

    found = identify("Maria da Silva;529.982.247-25", "intranet")
    assert found == Identity(name="Maria da Silva", cpf="52998224725")
    assert isinstance(identify("Maria da Silva;123", "intranet"), NotIdentified)
    assert identify("Maria da Silva 529.982.247-25", "whatsapp") is None


def test_example_route_message() -> None:
    _, manager = alone("route_message")

    def route(text: str, enabled: list[Department]) -> Any:
        return manager.hook.route_message(
            text=text, departments=enabled, conversation=conversation(), message=read(text)
        )

    assert route("Perdi a NOTA FISCAL da geladeira", list(BUILT_IN)) == "procon"
    assert route("Perdi a nota fiscal", [department("cac")]) is None
    assert route("segunda via do IPTU", list(BUILT_IN)) is None


# -- inside a department ----------------------------------------------------------------


def test_example_department_message() -> None:
    _, manager = alone("department_message")

    def answer(slug: str, text: str, contacts: dict[str, str]) -> Any:
        return manager.hook.department_message(
            department=department(slug),
            text=text,
            conversation=conversation(),
            texts=Texts(),
            settings=DepartmentConfig(contacts=contacts),
            message=read(text),
            now=NOW,
        )

    phone = {"phone": "(35) 3435-2052"}
    assert answer("cac", "Dúvida do IPTU", phone) == Answer(
        "Dúvidas sobre o IPTU: (35) 3435-2052.", done=True
    )
    assert answer("cac", "Dúvida do IPTU", {}) is None
    assert answer("procon", "Dúvida do IPTU", phone) is None


def test_example_form_submitted(caplog: pytest.LogCaptureFixture) -> None:
    _, manager = alone("form_submitted")

    def submitted(slug: str, contacts: dict[str, str]) -> list[str]:
        return manager.hook.form_submitted(
            department=department(slug),
            form="reclamacao",
            data={"fornecedor": "Loja Exemplo"},
            protocol="PROCON-2026-000001",
            conversation=conversation(),
            now=NOW,
            texts=Texts(),
            settings=DepartmentConfig(contacts=contacts),
        )

    with caplog.at_level(logging.INFO, "civic_procon_mail"):
        said = submitted("procon", {"email": "procon@extrema.mg.gov.br"})
    assert said == ["Se precisar, escreva para procon@extrema.mg.gov.br citando o protocolo."]
    assert "complaint PROCON-2026-000001 registered" in caplog.messages
    assert submitted("procon", {}) == []
    assert submitted("cac", {"email": "cac@extrema.mg.gov.br"}) == []


def test_example_protocol_number() -> None:
    _, manager = alone("protocol_number")
    number = manager.hook.protocol_number(
        department=department("procon"), form="reclamacao", year=2026, sequence=123
    )
    assert number == "2026.0123-PROCON"


# -- survey, lifecycle and reports ------------------------------------------------------


def test_example_score_rating() -> None:
    _, manager = alone("score_rating")

    def score(text: str, low: int = 0, high: int = 10) -> Any:
        return manager.hook.score_rating(text=text, scale_min=low, scale_max=high, texts=Texts())

    assert score("⭐⭐⭐⭐") == 8
    assert score("⭐⭐⭐⭐", 1, 5) == 4
    assert score("⭐", 1, 5) == 1
    assert score("nota 9") is None
    assert score("⭐" * 6) is None


LIFECYCLE = {
    "conversation_opened": ({}, "conversation 7 opened on whatsapp"),
    "conversation_closed": ({}, "conversation 7 closed in cac"),
    "conversation_handed_over": ({}, "cac: conversation 7 is waiting"),
    "conversation_taken": ({"agent": "ana"}, "ana took conversation 7"),
    "conversation_transferred": (
        {"source": "cac", "target": "procon", "note": "é consumo", "agent": "ana"},
        "procon: conversation 7 from cac",
    ),
    "conversation_released": ({"agent": "ana"}, "ana released conversation 7"),
    "conversation_resolved": ({"agent": "ana"}, "ana resolved conversation 7"),
}


def lifecycle(name: str, caplog: pytest.LogCaptureFixture) -> None:
    """Call a notifying hook's example as civic does, and find its log line."""
    _, manager = alone(name)
    arguments, logged = LIFECYCLE[name]
    with caplog.at_level(logging.INFO):
        getattr(manager.hook, name)(conversation=conversation(), **arguments)
    assert logged in caplog.messages


def test_example_conversation_opened(caplog: pytest.LogCaptureFixture) -> None:
    lifecycle("conversation_opened", caplog)


def test_example_conversation_closed(caplog: pytest.LogCaptureFixture) -> None:
    lifecycle("conversation_closed", caplog)


def test_example_conversation_handed_over(caplog: pytest.LogCaptureFixture) -> None:
    lifecycle("conversation_handed_over", caplog)


def test_example_conversation_taken(caplog: pytest.LogCaptureFixture) -> None:
    lifecycle("conversation_taken", caplog)


def test_example_conversation_transferred(caplog: pytest.LogCaptureFixture) -> None:
    lifecycle("conversation_transferred", caplog)


def test_example_conversation_released(caplog: pytest.LogCaptureFixture) -> None:
    lifecycle("conversation_released", caplog)


def test_example_conversation_resolved(caplog: pytest.LogCaptureFixture) -> None:
    lifecycle("conversation_resolved", caplog)


def test_example_register_report_indicators(storage: Storage) -> None:
    module = load_example("register_report_indicators")
    query = types.SimpleNamespace(
        submissions=lambda: Aggregate(1, {"cac": 1, "jsm": 0}),
        conversations=lambda: Aggregate(4, {"cac": 2, "jsm": 2, "procon": 0}),
    )
    registered: list[Any] = []
    module.register_report_indicators(registered.append)
    assert registered[0].compute(query) == Aggregate(0.25, {"cac": 0.5, "jsm": 0.0, "procon": None})
    manager = make_manager({})
    manager.register(module)
    manager.check_pending()
    report = build_report(storage, ReportScope(), manager=manager, now=NOW)
    assert report.labels["forms_per_conversation"] == "Protocolos por conversa"
    assert report.total.extra == {"forms_per_conversation": None}  # no conversation yet


# -- the guides in docs/ ----------------------------------------------------------------


def section(document: str, heading: str) -> str:
    """The text under ``heading`` (a Markdown heading line) up to the next heading of the
    same or a higher level."""
    text = (DOCS / document).read_text(encoding="utf-8")
    match = re.search(rf"^(#+) {re.escape(heading)}\n", text, re.M)
    assert match, f"{document} has no heading {heading!r}"
    level = len(match.group(1))
    rest = text[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


def value_classes() -> dict[str, type]:
    from civic import config, reading, texts, values

    found: dict[str, type] = {
        name: cls
        for name, cls in vars(values).items()
        if isinstance(cls, type) and attrs.has(cls) and cls.__module__ == values.__name__
    }
    found |= {
        "Reading": reading.Reading,
        "DepartmentConfig": config.DepartmentConfig,
        "Hours": config.Hours,
        "Texts": texts.Texts,
    }
    return found


@pytest.mark.parametrize("name", sorted(value_classes()))
def test_values_md_describes_every_field_of_every_value(name: str) -> None:
    cls = value_classes()[name]
    described = section("values.md", f"`{name}`")
    if attrs.has(cls):
        for field in attrs.fields(cls):
            assert f"`{field.name}`" in described, f"{name}.{field.name}"
    else:  # Texts: its public methods
        for method in ("words", "get", "numbers"):
            assert f"`texts.{method}(" in described


def meta_schema_keys(schema: Any) -> Iterator[str]:
    """The keywords a form may use: every name the meta-schema's ``properties`` define
    (at any depth), and every ``x-civic-*`` key."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key.startswith("x-civic-"):
                yield key
            if key == "properties" and isinstance(value, dict):
                for name, subschema in value.items():
                    yield name
                    yield from meta_schema_keys(subschema)
            elif key in ("$defs", "patternProperties", "dependentSchemas"):
                for subschema in value.values():
                    yield from meta_schema_keys(subschema)
            else:
                yield from meta_schema_keys(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from meta_schema_keys(item)


def test_forms_md_documents_every_keyword_and_format() -> None:
    guide = (DOCS / "forms.md").read_text(encoding="utf-8")
    keywords = set(meta_schema_keys(form_meta_schema())) - {"$schema", "$id"}
    assert {k for k in keywords if k.startswith("x-civic-")} >= {"x-civic-label", "x-civic-error"}
    missing = sorted(k for k in keywords if f"`{k}`" not in guide)
    assert not missing, f"forms.md does not document {missing}"
    assert not sorted(f for f in FORMATS if f"`{f}`" not in guide)
    documented = set(re.findall(r"`(x-civic-[a-z-]+)`", guide))
    assert documented <= keywords, "forms.md documents a keyword civic does not know"


def test_forms_md_example_form_is_valid() -> None:
    guide = (DOCS / "forms.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- example-form -->\n```json\n(.*?)```", guide, re.S)
    assert block, "forms.md's example form is missing"
    assert form_errors(json.loads(block.group(1)), formats=FORMATS) == []


def test_routing_md_lists_the_generic_words() -> None:
    guide = (DOCS / "routing.md").read_text(encoding="utf-8")
    listed = re.search(r"<!-- generic-words -->\n(.*?)\n\n", guide, re.S)
    assert listed, "routing.md's list of generic words is missing"
    assert set(re.findall(r"`([^`]+)`", listed.group(1))) == GENERIC


def test_values_md_doctests_pass() -> None:
    import doctest

    result = doctest.testfile(str(DOCS / "values.md"), module_relative=False)
    assert result.attempted and not result.failed


def test_plugin_settings_md_example_works(tmp_path: Path, storage: Storage) -> None:
    guide = (DOCS / "plugin_settings.md").read_text(encoding="utf-8")
    code = re.search(r"<!-- example-plugin -->\n```python\n(.*?)```", guide, re.S)
    toml = re.search(r"<!-- example-toml -->\n```toml\n(.*?)```", guide, re.S)
    assert code and toml
    module = types.ModuleType("civic_example_settings")
    exec(compile(code.group(1), "<plugin_settings.md>", "exec"), module.__dict__)
    manager = make_manager({})
    manager.register(module)
    manager.check_pending()
    import tomllib

    good = parse_config(tomllib.loads(toml.group(1)))
    schemas = {d.slug: d.settings_schema for d in departments.collect(manager)}
    assert settings_problems(good, schemas) == []
    engine = Engine(storage, secret=b"test-secret", manager=manager, config=good)
    assert "biblioteca" in engine.registry.slugs
    bad = parse_config({"departments": {"biblioteca": {"loan_days": "14", "fine": 1}}})
    assert len(settings_problems(bad, schemas)) == 2
    for key in CORE_DEPARTMENT_KEYS:
        assert f"`{key}`" in guide
