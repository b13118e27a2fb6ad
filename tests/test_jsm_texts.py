"""JSM: every citizen-facing sentence is a catalogue text a city can override, and every
setting the plugin reads is documented."""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import civic.engine
import civic_jsm
from civic.config import Config, DepartmentConfig, load_config
from civic.departments import department_texts
from civic.engine import Engine
from civic.storage import Storage
from tests.chat import MARIA, Chat
from tests.conftest import SECRET

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "plugins" / "jsm"
SOURCES = sorted(PLUGIN.glob("*.py"))
CATALOGUE: dict[str, object] = json.loads(
    (PLUGIN / "locales" / "pt-BR" / "jsm.json").read_text(encoding="utf-8")
)
#: Words of Portuguese prose that a keyword, an identifier or an English message lacks.
PORTUGUESE = frozenset({
    "de", "do", "da", "dos", "das", "na", "nos", "nas", "para", "que", "com", "em", "um",
    "uma", "voce", "seu", "sua", "nao", "por", "ao", "pelo", "pela", "sem", "mais",
})  # fmt: skip
#: A value of a placeholder in a key built by an f-string: a slug, a topic key, a number.
_KEY_PART = r"[a-z0-9_.]+"


# -- reading the plugin's code --------------------------------------------------------


def _trees() -> Iterator[ast.Module]:
    for path in SOURCES:
        yield ast.parse(path.read_text(encoding="utf-8"), str(path))


def _docstrings(tree: ast.Module) -> set[int]:
    """The ids of the module's, classes' and functions' docstring nodes."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _keyword_lists(tree: ast.Module) -> set[int]:
    """The ids of the strings in a department's or a topic's ``keywords`` (words a
    citizen types, not sentences civic says)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        lists = [k.value for k in node.keywords if k.arg == "keywords"]
        if isinstance(node.func, ast.Name) and node.func.id == "topic" and len(node.args) > 1:
            lists.append(node.args[1])
        for words in lists:
            found.update(id(item) for item in ast.walk(words) if isinstance(item, ast.Constant))
    return found


def _strings() -> Iterator[tuple[ast.Constant | ast.JoinedStr, bool]]:
    """Every string literal and f-string of the plugin but its docstrings, and whether it
    is a keyword."""
    for tree in _trees():
        skip, keywords = _docstrings(tree), _keyword_lists(tree)
        parts = {
            id(value) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
            for value in node.values
        }  # fmt: skip
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                yield node, False
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in skip | parts
            ):
                yield node, id(node) in keywords


def _pattern(node: ast.Constant | ast.JoinedStr) -> re.Pattern[str] | None:
    """The keys a literal can name: itself, or an f-string with its holes filled by any
    key part; ``None`` for an f-string with no fixed text (it could be anything)."""
    if isinstance(node, ast.Constant):
        return re.compile(re.escape(str(node.value)))
    fixed = [v.value for v in node.values if isinstance(v, ast.Constant)]
    if not any(re.search(r"[a-z]", str(text)) for text in fixed):
        return None
    return re.compile(
        "".join(
            re.escape(str(v.value)) if isinstance(v, ast.Constant) else _KEY_PART
            for v in node.values
        )
    )


def _is_key(node: ast.Constant | ast.JoinedStr) -> bool:
    """Whether a literal names a catalogue key: ``"jsm...."`` or ``f"{SLUG}...."``."""
    if isinstance(node, ast.Constant):
        return bool(re.fullmatch(r"jsm\.[a-z0-9_.]+", str(node.value)))
    first = node.values[0]
    if isinstance(first, ast.Constant):
        return str(first.value).startswith("jsm.")
    return isinstance(first, ast.FormattedValue) and ast.unparse(first.value) == "SLUG"


def _key_patterns() -> list[re.Pattern[str]]:
    found = []
    for node, _ in _strings():
        pattern = _pattern(node)
        if pattern is not None:
            found.append(pattern)
    return found


def _prose(text: str) -> bool:
    """Whether ``text`` reads as a Portuguese sentence or phrase (a regular expression,
    such as the named date's ``(?:de )?``, does not)."""
    if "(?" in text:
        return False
    if re.search(r"[À-ÿ]", text):
        return True
    words = re.findall(r"[A-Za-z]+", text)
    return len(words) >= 2 and any(word.lower() in PORTUGUESE for word in words)


def _module_constants() -> dict[str, str]:
    """Module-level ``NAME = "text"`` assignments of the plugin."""
    found = {}
    for tree in _trees():
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        found[target.id] = node.value.value
    return found


def settings_read() -> set[str]:
    """The names of the settings the plugin reads (``settings.get(NAME)``)."""
    constants = _module_constants()
    found = set()
    for tree in _trees():
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "settings"
                and node.args
            ):
                continue
            name = node.args[0]
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                found.add(name.value)
            elif isinstance(name, ast.Name):
                found.add(constants[name.id])
            else:
                pytest.fail(f"a setting read by an unknown name: {ast.unparse(node)}")
    return found


# -- the catalogue ------------------------------------------------------------------


def test_the_catalogue_is_the_jsms_own() -> None:
    assert CATALOGUE and all(key.startswith("jsm.") for key in CATALOGUE)
    for key, value in CATALOGUE.items():
        if ".words." in key:
            assert isinstance(value, list) and all(isinstance(v, str) for v in value), key
        else:
            assert isinstance(value, str) and value.strip() == value and value, key


def test_every_catalogue_key_is_used() -> None:
    """No dead keys: each is a text of the registered department (its name, topics...) or
    is named by the plugin's code."""
    registered = department_texts([civic_jsm.DEPARTMENT])
    patterns = _key_patterns()
    dead = [
        key
        for key in CATALOGUE
        if key not in registered and not any(p.fullmatch(key) for p in patterns)
    ]
    assert dead == []


def test_every_key_the_code_names_exists() -> None:
    registered = department_texts([civic_jsm.DEPARTMENT])
    keys = set(CATALOGUE) | set(registered)
    named = [node for node, _ in _strings() if _is_key(node)]
    assert len(named) > 20
    for node in named:
        pattern = _pattern(node)
        assert pattern is not None and any(pattern.fullmatch(key) for key in keys), ast.unparse(
            node
        )


def test_no_sentence_is_left_in_the_code() -> None:
    """Only keywords (words citizens type) may be Portuguese in the plugin's literals;
    everything civic says is in the catalogue. Docstrings cite the law in English."""
    prose = []
    for node, keyword in _strings():
        if keyword:
            continue
        if isinstance(node, ast.JoinedStr):
            text = "".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
        else:
            text = str(node.value)
        if _prose(text):
            prose.append(text)
    assert prose == []


def test_the_prose_check_finds_sentences() -> None:
    """The check above can fail: the former constants would not pass it."""
    assert _prose("Junta do Serviço Militar")
    assert _prose("Preciso da data de nascimento completa")
    assert _prose("Contatos da {name}:")
    assert not _prose("segunda via")
    assert not _prose("birth date {birth_date} is after {today}")
    assert not _prose("women_enlistment_years")
    assert _prose("Você está na Junta (JSM)")


def test_every_topic_has_a_key_and_the_registration_is_the_catalogue() -> None:
    department = civic_jsm.DEPARTMENT
    keys = [topic.key for topic in department.topics]
    assert all(keys) and len(set(keys)) == len(keys)
    for key, text in department_texts([department]).items():
        if not key.startswith("jsm.forms."):
            assert CATALOGUE[key] == text


def test_templates_assume_no_article_for_a_name() -> None:
    """A city or department name may be masculine or feminine: no "na {name}"."""
    article = re.compile(
        r"\b(?:a|o|as|os|da|do|das|dos|na|no|nas|nos|pela|pelo|à|ao)\s+"
        r"\{(?:name|city|department)\}",
        re.I,
    )
    for key, value in CATALOGUE.items():
        if isinstance(value, str):
            assert not article.search(value), key


def test_dates_in_texts_are_written_as_brazilians_write_them() -> None:
    for key, value in CATALOGUE.items():
        if isinstance(value, str):
            assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2}\b", value), key
            assert "1 de janeiro" not in value, key  # "1º de janeiro"


# -- a city's overrides -------------------------------------------------------------


@pytest.fixture
def at_noon(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    """10/03/2026, 14:30 UTC: the clock of every engine built in the test."""
    moment = dt.datetime(2026, 3, 10, 14, 30, tzinfo=dt.UTC)
    monkeypatch.setattr(civic.engine, "utcnow", lambda: moment)
    return moment


def _chat(storage: Storage, now: dt.datetime, config: Config) -> Chat:
    engine = Engine(storage, secret=SECRET, config=config)
    engine.clock = lambda: now
    return Chat(engine)


def test_a_citys_overrides_change_the_answers(storage: Storage, at_noon: dt.datetime) -> None:
    config = Config(
        texts={
            "jsm.name": "Junta de Serviço Militar de Extrema",
            "jsm.topics.debt": "Estou em dívida: o que não posso fazer?",
            "jsm.topics.women.answer": "Alistamento feminino: sempre voluntário.",
            "jsm.late_fine_unknown": "Multa: consulte o valor pelo telefone da Junta.",
            "jsm.on_time": "No prazo: alistamento até {end}.",
            "jsm.contacts": "Fale conosco:",
            "jsm.words.month_3": ["março", "marzo"],
        },
        department_settings={"jsm": DepartmentConfig(contacts={"telefone": "(35) 3435-0000"})},
    )
    chat = _chat(storage, at_noon, config)
    answer = chat.send(MARIA)
    assert "3. Junta de Serviço Militar de Extrema" in answer
    answer = chat.send("3")
    assert "10. Estou em dívida: o que não posso fazer?" in answer
    answer = chat.send("Estou em dívida: o que não posso fazer?")
    assert "art. 74" in answer
    answer = chat.script("sim", "3", "alistamento feminino")
    assert answer.startswith("Alistamento feminino: sempre voluntário.\n\nEm 2026, podem")
    answer = chat.script("sim", "3", "20/08/2004")
    assert "Multa: consulte o valor pelo telefone da Junta." in answer
    assert "Fale conosco:\nTelefone: (35) 3435-0000" in answer
    answer = chat.script("sim", "3", "nasci em 15 marzo 2008")
    assert answer.startswith("No prazo: alistamento até 30/06/2026.\n\nFale conosco:")
    assert "No prazo" not in chat.script("sim", "3", "nasci em 15 mar 2008")  # not a month


def test_a_citys_override_of_the_sentence_after_a_form(
    storage: Storage, at_noon: dt.datetime
) -> None:
    config = Config(texts={"jsm.appointment_requested": "A Junta liga para você."})
    chat = _chat(storage, at_noon, config)
    assert "A Junta liga para você." in chat.script(MARIA, "3", "3", "1", "pular", "1")


def test_config_check_knows_the_jsm_keys(tmp_path: Path) -> None:
    from civic.cli import app

    city = tmp_path / "civic.toml"
    city.write_text(
        '[texts]\n"jsm.late_fine" = "Multa: {fine}."\n"jsm.exar_window" = "EXAR: {when}"\n'
        '"jsm.nope" = "x"\n"jsm.words.birth" = ["nasci"]\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["config", "check", str(city)])
    assert result.exit_code == 1
    assert f"{city}: texts.jsm.nope: unknown text key" in result.stderr
    assert "texts.jsm.exar_window: unknown placeholder {when}" in result.stderr
    assert "jsm.late_fine" not in result.stderr and "jsm.words.birth" not in result.stderr


# -- settings -----------------------------------------------------------------------


def _readme_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"### JSM settings\n(.*?)\n##", readme, re.S)
    assert found, "the README's JSM settings section is missing"
    return found.group(1)


def test_every_setting_the_plugin_reads_is_documented() -> None:
    read = settings_read()
    assert read >= {
        "late_fine",
        "lost_certificate_fine",
        "fine_date",
        "women_enlistment_years",
        "exar",
    }
    example = tomllib.loads((ROOT / "examples" / "civic.toml").read_text(encoding="utf-8"))
    jsm = example["departments"]["jsm"]
    assert read <= jsm.keys()
    assert jsm["exar"].keys() == {"start", "end"}
    section = _readme_section()
    for name in read | {"contacts", "hours"}:
        assert f"`{name}`" in section, name
    readme_example = re.search(r"```toml\n(.*?)```", section, re.S)
    assert readme_example
    assert read <= tomllib.loads(readme_example.group(1))["departments"]["jsm"].keys()


def test_the_examples_settings_are_said(storage: Storage, at_noon: dt.datetime) -> None:
    """The example city's facts reach the citizen, each with the date it is worth."""
    config = load_config(ROOT / "examples" / "civic.toml")
    chat = _chat(storage, at_noon, config)
    chat.script(MARIA, "3")
    answer = chat.send("20/08/2004")
    assert "multa de R$ 4,21 (valor de 01/01/2026)." in answer
    assert "WhatsApp: (35) 9 8412-8058" in answer
    assert "A multa é de R$ 21,05 (valor de 01/01/2026)." in chat.script(
        "sim", "3", "perdi meu cdi"
    )
    assert "de 01/12/2026 a 31/12/2026" in chat.script("sim", "3", "exar")
    assert "O plano de 2026 prevê" in chat.script("sim", "3", "alistamento feminino")
