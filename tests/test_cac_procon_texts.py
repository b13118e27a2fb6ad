"""The CAC's and PROCON's sentences live in their catalogues (issue 10, item 1): no
citizen-facing sentence is left in their Python, no catalogue key is dead, and a city's
``[texts]`` rewords their answers."""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import civic_cac
import civic_procon
from civic.config import parse_config
from civic.engine import Engine
from civic.plugins import load_plugins
from civic.storage import Storage
from civic.texts import Texts
from tests.chat import MARIA, Chat
from tests.conftest import SECRET

NOW = dt.datetime(2026, 11, 28, 15, 0, tzinfo=dt.UTC)
PLUGINS = {"cac": civic_cac, "procon": civic_procon}
#: The arguments of a ``Department`` or ``Topic`` registration whose strings stay in
#: Python: names, keywords and titles (a city rewords them through derived keys), and
#: identifiers (the protocol numbers' prefix).
REGISTRATION_ARGS = frozenset(
    {"slug", "name", "description", "greeting", "title", "keywords", "key", "form"}
    | {"protocol_prefix"}
)
#: A catalogue key or an identifier (``cac.service.who``, ``solicitacao.json``), or a
#: folded keyword (``carne do iptu``): not something said to a citizen.
NOT_SAID = re.compile(r"[a-z0-9_]+(\.[a-z0-9_-]+)*|[a-z0-9 ]+")


def sources(module: ModuleType) -> dict[Path, str]:
    """The plugin's Python files."""
    folder = Path(module.__file__ or "").parent
    return {path: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.py"))}


def catalogue(slug: str) -> dict[str, object]:
    folder = Path(PLUGINS[slug].__file__ or "").parent
    path = folder / "locales" / "pt-BR" / f"{slug}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the module's, classes' and functions' docstring nodes."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _registered(tree: ast.AST) -> set[int]:
    """The ids of the strings under a ``Department(...)``/``Topic(...)`` argument that
    stays in Python (see :data:`REGISTRATION_ARGS`)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("Department", "Topic"):
            for keyword in node.keywords:
                if keyword.arg in REGISTRATION_ARGS:
                    found.update(id(inner) for inner in ast.walk(keyword.value))
    return found


def string_literals(source: str) -> Iterator[str]:
    """Every string literal of ``source`` but docstrings and registration arguments."""
    tree = ast.parse(source)
    skip = _docstrings(tree) | _registered(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.value


def said_to_citizens(source: str) -> list[str]:
    """The literals that read as Portuguese for a citizen: capitals, accents, punctuation."""
    return [
        text
        for text in string_literals(source)
        if any(char.isalpha() for char in text) and not NOT_SAID.fullmatch(text)
    ]


def test_the_scan_finds_a_sentence_and_spares_registrations() -> None:
    """The scan below can fail: the constants this issue moved out are found."""
    source = (
        '"""Docstring: Prazo de resposta."""\n'
        'NOT_CONFIGURED = "Essa informação ainda não foi cadastrada aqui."\n'
        'LABELS = {"phone": "Telefone"}\n'
        'HOURS = Topic(key="hours", title="Horário de atendimento", keywords=("que horas",))\n'
        'WORDS = ("carne do iptu", "2a via")\n'
        'KEY = "cac.service.who"\n'
    )
    assert said_to_citizens(source) == [
        "Essa informação ainda não foi cadastrada aqui.",
        "Telefone",
    ]


@pytest.mark.parametrize("slug", sorted(PLUGINS))
def test_no_sentence_is_left_in_python(slug: str) -> None:
    """Answers, warnings, next steps and labels are catalogue keys; only the names,
    titles and keywords of the registrations stay in the code."""
    for path, source in sources(PLUGINS[slug]).items():
        assert said_to_citizens(source) == [], path


@pytest.mark.parametrize("slug", sorted(PLUGINS))
def test_every_catalogue_key_is_used_and_every_used_key_exists(slug: str) -> None:
    """No dead key: each key of the catalogue is named in the plugin's code; no key the
    code names is missing. A key under ``<slug>.topics.<key>`` belongs to a topic."""
    keys = set(catalogue(slug))
    named = {
        text
        for source in sources(PLUGINS[slug]).values()
        for text in string_literals(source)
        if text.startswith(f"{slug}.")
    }
    assert keys - named == set(), "dead keys"
    assert named - keys == set(), "keys missing from the catalogue"
    department = PLUGINS[slug].DEPARTMENT
    topic_keys = {topic.key for topic in department.topics}
    for key in keys:
        assert key.startswith(f"{slug}.")
        if key.startswith(f"{slug}.topics."):
            assert key.split(".")[2] in topic_keys, key


@pytest.mark.parametrize("slug", sorted(PLUGINS))
def test_every_topic_has_a_key(slug: str) -> None:
    """A city retitles any topic with ``<slug>.topics.<key>``."""
    topics = PLUGINS[slug].DEPARTMENT.topics
    keys = [topic.key for topic in topics]
    assert all(keys) and len(set(keys)) == len(keys)


@pytest.mark.parametrize("slug", sorted(PLUGINS))
def test_templates_assume_no_article_for_the_department(slug: str) -> None:
    """A city renames a department (``<slug>.name``): no sentence says "do PROCON"."""
    name = PLUGINS[slug].DEPARTMENT.name
    for key, template in catalogue(slug).items():
        assert not re.search(rf"\b(d|n)?[oa]s? {name}\b", str(template)), key


def test_the_registered_answers_are_the_catalogues() -> None:
    """The topics' answers are registered from the catalogue, not written twice."""
    texts = catalogue("procon")
    for topic in civic_procon.DEPARTMENT.topics:
        if topic.answer:
            assert texts[f"procon.topics.{topic.key}.answer"] == topic.answer


# -- a city rewords the answers -------------------------------------------------------


def chat_in(storage: Storage, raw: dict[str, object], department: str) -> Chat:
    config = parse_config(raw)
    engine = Engine(
        storage, secret=SECRET, manager=load_plugins(), config=config, clock=lambda: NOW
    )
    chat = Chat(engine)
    chat.script(MARIA, department)
    return chat


SERVICES = {"iptu": {"who": "o Setor de Tributos", "how_long": "na hora"}}


def test_a_city_rewords_the_cac(storage: Storage) -> None:
    """``[texts]`` overrides of the CAC's sentences and titles reach its answers; a
    retitled topic is still told apart by its key."""
    texts = {
        "cac.service.who": "Responsável: {who}.",
        "cac.topics.iptu": "IPTU e taxas",
        "cac.topics.hours": "Quando atendemos",
        "cac.not_configured": "Ainda sem essa informação.",
        "cac.contact.phone": "Fone",
    }
    raw = {
        "texts": texts,
        "departments": {"cac": {"services": SERVICES, "contacts": {"phone": "(11) 4000-1234"}}},
    }
    chat = chat_in(storage, raw, "1")
    answer = chat.send("segunda via do iptu")
    assert "*IPTU e taxas*" in answer and "Responsável: o Setor de Tributos." in answer
    assert "Quem cuida" not in answer
    chat.send("sim")
    menu = chat.send("cac")
    assert "Quando atendemos" in menu
    hours = next(i for i, t in enumerate(civic_cac.DEPARTMENT.topics, 1) if t.key == "hours")
    assert "Ainda sem essa informação." in chat.send(str(hours))
    chat.send("sim")
    assert "Fone: (11) 4000-1234" in chat.send("qual o telefone?")


def test_a_city_rewords_procon(storage: Storage) -> None:
    """An override of a PROCON answer changes what the citizen reads."""
    answer = "Arrependimento: 7 dias desde o recebimento (CDC, art. 49)."
    chat = chat_in(storage, {"texts": {"procon.topics.withdrawal.answer": answer}}, "2")
    reply = chat.send("comprei pela internet e quero desistir")
    assert answer in reply and "Compras feitas fora da loja" not in reply


def test_warnings_and_next_steps_read_the_texts_they_are_given() -> None:
    """CDC (Lei 8.078/1990) art. 49: the warning of a late withdrawal, and the next
    steps, are the catalogue's sentences filled from the ``texts`` given."""
    texts = Texts(
        overrides={
            "procon.warnings.withdrawal": "Passaram os 7 dias do art. 49.",
            "procon.warnings.registered_anyway": "Registramos assim mesmo.",
            "procon.next_steps": "Vamos notificar o fornecedor.",
            "procon.keep_documents": "Guarde a nota fiscal.",
        },
        packages=("civic_procon",),
    )
    answers = {"categoria": "arrependimento"}
    warning = civic_procon.receipt_warning("2026-11-20", answers, dt.date(2026, 11, 28), texts)
    assert warning == "Passaram os 7 dias do art. 49. Registramos assim mesmo."
    steps = civic_procon.next_steps(texts)
    assert steps == "Vamos notificar o fornecedor.\nGuarde a nota fiscal."


def test_a_city_rewords_the_warnings_and_next_steps(storage: Storage) -> None:
    """CDC (Lei 8.078/1990) art. 49: a city's wording of the late-withdrawal warning and
    of the next steps reaches the complaint's citizen."""
    texts = {
        "procon.warnings.withdrawal": "Passaram os 7 dias do art. 49.",
        "procon.next_steps": "Vamos notificar o fornecedor.",
    }
    chat = chat_in(storage, {"texts": texts}, "2")
    said = [
        chat.send(line)
        for line in (
            "1",
            "Magazine Exemplo",
            "pular",
            "www.magazineexemplo.com.br",
            "Geladeira frost free",
            "desistir de uma compra feita fora da loja (internet, telefone, em casa)",
            "pular",
            "pular",
            "pular",
            "não",
            "01/11/2026",
        )
    ]
    assert "Passaram os 7 dias do art. 49." in said[-1]
    for line in ("Desisti no dia seguinte e a loja não devolve.", "2", "Itapeva"):
        chat.send(line)
    assert "Vamos notificar o fornecedor." in chat.send("1")
