"""civic.testing, the public test kit: its strategies, its harness, its pytest plugin,
and its conformance suite, which must pass a sound department and catch broken ones."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from stdnum.br import cnpj as stdnum_cnpj

from civic import Answer, Department, Topic, formats, hookimpl
from civic.default_plugins import identify_cpf
from civic.default_plugins.survey import read_score
from civic.forms import FormRunner, build_format_checker
from civic.plugins import make_manager
from civic.staff import StaffError
from civic.states import State
from civic.testing import (
    DEFAULT_START,
    MARIA,
    DepartmentConformance,
    Harness,
    LoggedError,
    build_manager,
)
from civic.testing import strategies as cs
from civic.testing.conformance import KeywordOverlapWarning, subject_of
from civic.text import fold
from civic.texts import Texts

TEXTS = Texts()
CHECKER = build_format_checker(make_manager({"CIVIC_LOAD_PLUGINS": ""}))

# -- a sound department that uses every kind of field -----------------------------------

#: A form with every civic format, numbers, a boolean, choices, a condition with an
#: ``else``, ``dependentRequired``, a default and free text with limits.
PEDIDO: dict[str, Any] = {
    "title": "Pedido de exemplo",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "tipo": {
            "title": "Quem faz o pedido?",
            "oneOf": [
                {"const": "pf", "title": "Pessoa física"},
                {"const": "pj", "title": "Empresa"},
            ],
        },
        "cpf": {"title": "Qual é o CPF?", "type": "string", "format": "cpf"},
        "cnpj": {"title": "Qual é o CNPJ?", "type": "string", "format": "cnpj"},
        "vendedor": {
            "title": "CPF ou CNPJ de quem vendeu?",
            "type": "string",
            "format": "cpf-cnpj",
        },
        "cep": {"title": "Qual é o CEP?", "type": "string", "format": "cep"},
        "telefone": {"title": "Qual telefone, com DDD?", "type": "string", "format": "phone"},
        "email": {"title": "Qual e-mail?", "type": "string", "format": "email"},
        "data": {
            "title": "Quando aconteceu?",
            "type": "string",
            "format": "date",
            "x-civic-not-future": True,
        },
        "valor": {"title": "Qual o valor?", "type": "string", "format": "money"},
        "pessoas": {"title": "Quantas pessoas?", "type": "integer", "minimum": 1, "maximum": 500},
        "nota": {"title": "Que nota dá?", "type": "number", "minimum": 0, "maximum": 10},
        "urgente": {"title": "É urgente?", "type": "boolean"},
        "turno": {"title": "Qual turno?", "enum": ["manhã", "tarde"]},
        "relato": {
            "title": "Conte o que houve.",
            "type": "string",
            "minLength": 5,
            "maxLength": 200,
        },
        "prioridade": {
            "title": "Qual prioridade?",
            "type": "string",
            "maxLength": 20,
            "default": "normal",
        },
    },
    "required": ["tipo", "urgente", "relato"],
    "if": {"properties": {"tipo": {"const": "pf"}}, "required": ["tipo"]},
    "then": {"required": ["cpf"]},
    "else": {"required": ["cnpj"]},
    "dependentRequired": {"valor": ["data"]},
}

EXEMPLO = Department(
    slug="exemplo",
    name="Exemplo",
    description="Um departamento de exemplo",
    keywords=("exemplo", "pedido de exemplo"),
    topics=(
        Topic(title="Fazer um pedido", keywords=("pedido",), form="pedido", key="pedido"),
        Topic(title="Horário", keywords=("horario",), answer="Das 8h às 17h.", key="horario"),
        Topic(title="Falar com um atendente", keywords=("atendente",), handover=True),
    ),
    forms={"pedido": PEDIDO},
    protocol_prefix="EXE",
    order=5,
)


class Exemplo:
    """A plugin registering :data:`EXEMPLO` (the topics plugin answers for it)."""

    __name__ = "exemplo"

    def __init__(self, department: Department = EXEMPLO, **hooks: Callable[..., Any]) -> None:
        self.department = department
        for name, hook in hooks.items():
            setattr(self, name, hookimpl(hook))

    @hookimpl
    def register_departments(self, register: Callable[[Department], None]) -> None:
        register(self.department)


class TestExemplo(DepartmentConformance):
    """A department that is not installed passes the suite, given as ``plugin``."""

    department = "exemplo"
    plugin = Exemplo()
    max_examples = 8


# -- strategies ---------------------------------------------------------------------------


def test_cnpj_check_digits_of_the_receita_s_example() -> None:
    """The Receita's example of the alphanumeric CNPJ, 12.ABC.345/01DE-35 (IN RFB
    2.229/2024, annex: the letters count as their ASCII code minus 48), and a numeric
    one, 11.222.333/0001-81."""
    assert cs.cnpj_check_digits("12ABC34501DE") == "35"
    assert cs.cnpj_check_digits("112223330001") == "81"
    assert cs.cpf_check_digits("529982247") == "25"


@given(base=st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=12, max_size=12))
def test_cnpj_check_digits_agree_with_python_stdnum(base: str) -> None:
    assert cs.cnpj_check_digits(base) == stdnum_cnpj.calc_check_digits(base)


@given(data=st.data())
def test_documents_as_typed_are_read_back(data: st.DataObject) -> None:
    cpf = data.draw(cs.valid_cpfs())
    cnpj = data.draw(cs.valid_cnpjs())
    assert formats.normalise("cpf", data.draw(cs.typed_cpfs(cpf))) == cpf
    assert formats.normalise("cnpj", data.draw(cs.typed_cnpjs(cnpj))) == cnpj
    assert formats.normalise("cpf-cnpj", data.draw(cs.typed_cnpjs(cnpj))) == cnpj
    for bad, fmt in ((cs.invalid_cpfs(), "cpf"), (cs.invalid_cnpjs(), "cnpj")):
        with pytest.raises(formats.FormatError):
            formats.normalise(fmt, data.draw(bad))


def test_alphanumeric_cnpjs_hold_letters() -> None:
    @given(cs.valid_cnpjs(alphanumeric=True))
    def check(value: str) -> None:
        assert not value[:12].isdigit() and value[12:].isdigit()
        assert formats.is_cnpj(value)

    check()


@pytest.mark.parametrize("fmt", sorted(formats.FORMATS))
@given(data=st.data())
def test_every_format_value_as_typed_is_read_back(fmt: str, data: st.DataObject) -> None:
    value = data.draw(cs.format_values(fmt))
    assert formats.FORMATS[fmt].check(value)
    assert formats.normalise(fmt, data.draw(cs.typed_format_value(fmt, value))) == value


@given(found=cs.identity_messages())
def test_identity_messages_name_the_citizen(found: tuple[str, str, str]) -> None:
    message, name, digits = found
    identity = identify_cpf.identify_citizen(text=message, texts=TEXTS)
    assert identity.cpf == digits
    assert fold(identity.name) == fold(name)


@given(name=cs.brazilian_names())
def test_brazilian_names_are_names(name: str) -> None:
    words = name.split()
    assert 2 <= len(words) <= 10
    assert fold(words[0]) in {fold(given.split()[0]) for given in cs.GIVEN_NAMES}
    assert all(word.replace("'", "").isalpha() for word in words), name


@given(found=cs.typed_scores())
def test_typed_scores_are_read(found: tuple[str, int]) -> None:
    text, score = found
    assert read_score(text, 0, 10) == score


@given(text=cs.citizen_messages())
def test_citizen_messages_are_text(text: str) -> None:
    assert isinstance(text, str) and len(text) <= 300_000


def test_command_words_hold_the_commands() -> None:
    assert {"cancelar", "pular", "menu", "encerrar", "atendente", "sim"} <= cs.command_words()


def _say(form: FormRunner, progress: dict[str, Any], text: str) -> Any:
    return form.step(progress, text, today=DEFAULT_START.date())


@settings(max_examples=60)
@given(data=st.data())
def test_form_answers_typed_are_accepted_by_the_runner(data: st.DataObject) -> None:
    """Any answer set, typed as drawn, goes through the form runner unchanged."""
    form = FormRunner("pedido", PEDIDO, TEXTS, CHECKER)
    answers = data.draw(cs.form_answers(PEDIDO, today=DEFAULT_START.date()))
    assert form.validator.is_valid(answers)
    typed = data.draw(cs.typed_answers(PEDIDO, answers))
    step = form.start()
    for _ in range(40):
        if step.progress["stage"] != "field":
            break
        name = step.progress["field"]
        step = _say(form, step.progress, typed.get(name, "pular"))
        assert step.progress.get("failures", 0) == 0, (name, typed.get(name), step.replies)
    done = _say(form, step.progress, "1")
    assert done.status == "submitted"
    expected = dict(answers)
    if "prioridade" not in expected:
        expected["prioridade"] = "normal"
    assert done.data == expected


@pytest.mark.parametrize("name", sorted(PEDIDO["properties"]))
def test_invalid_answers_are_refused_by_the_runner(name: str) -> None:
    form = FormRunner("pedido", PEDIDO, TEXTS, CHECKER)
    found = cs.invalid_answer_texts(PEDIDO["properties"][name], today=DEFAULT_START.date())
    if name == "prioridade":  # free text up to 20 characters: only a longer one
        assert found == ["palavra palavra palav"]
    assert found, name
    for text in found:
        step = _say(form, {"stage": "field", "field": name, "answers": {}}, text)
        assert step.progress["field"] == name and step.progress["failures"] == 1, (name, text)
        assert name not in step.progress["answers"]


# -- the harness --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def alone() -> Iterator[Harness]:
    """The sound department alone with civic's defaults (built once for the module)."""
    with Harness(Exemplo()) as harness:
        yield harness


def test_harness_talks_and_expects(alone: Harness) -> None:
    citizen = alone.citizen()
    assert "Olá! Atendimento ao cidadão" in citizen.say("oi")
    citizen.say(MARIA)
    citizen.expect(
        "Obrigado, Maria!", "Fazer um pedido", state="in_department", department="exemplo"
    )
    with pytest.raises(AssertionError, match=r"(?s)do not contain 'Tchau'.*citizen: 'Maria José"):
        citizen.expect("Tchau")
    with pytest.raises(AssertionError, match="the state is 'in_department', not 'closed'"):
        citizen.expect(state=State.CLOSED)


def test_harness_walks_a_form_and_reads_the_submission(alone: Harness) -> None:
    citizen = alone.citizen()
    citizen.script(MARIA, "1")
    assert citizen.asking == "tipo"
    answers = {"tipo": "1", "cpf": "529.982.247-25", "urgente": "sim", "relato": "Nada funciona"}
    for _ in range(20):
        if citizen.asking is None:
            break
        citizen.say(answers.get(citizen.asking, "pular"))
    view = citizen.form()
    assert view is not None and view.stage == "summary"
    assert view.answers["cpf"] == "52998224725"  # sealed in the database, opened here
    reply = citizen.say("1")
    submission = citizen.submission()
    assert submission.protocol in reply and submission.protocol.startswith("EXE-2026-")
    assert submission.data == {
        "tipo": "pf",
        "cpf": "52998224725",
        "urgente": True,
        "relato": "Nada funciona",
        "prioridade": "normal",
    }
    assert submission.stored["cpf"] != "52998224725"  # masked in clear, kept encrypted
    assert citizen.protocols == [submission.protocol]


def test_harness_clock_is_frozen_until_advanced(alone: Harness) -> None:
    citizen = alone.citizen()
    citizen.say(MARIA)
    conversation = alone.engine.conversation(citizen.conversation_id or 0)
    assert conversation is not None and conversation.opened_at == alone.now
    before = alone.now
    assert alone.advance(hours=25) == before + dt.timedelta(hours=25)
    closed = alone.expire()
    assert citizen.conversation_id in closed and citizen.state == State.CLOSED
    assert citizen.received() == alone.engine.texts("expired_notice")
    with pytest.raises(ValueError, match="forward"):
        alone.advance(dt.timedelta(minutes=-1))


def test_harness_attendant_takes_replies_closes(alone: Harness) -> None:
    citizen = alone.citizen()
    citizen.script(MARIA, "atendente")
    assert citizen.state == State.HUMAN
    ana = alone.attendant("Ana")
    assert ana.take(who=citizen) == "" and citizen.state == State.AGENT
    assert ana.reply("Bom dia, Maria!", who=citizen) == "Bom dia, Maria!"
    with pytest.raises(StaffError, match="is with Ana"):
        alone.attendant("Bia").reply("Oi", who=citizen)
    assert "que nota" in ana.close(who=citizen) and citizen.state == State.RATING
    citizen.say("nota 9")
    assert citizen.state == State.RATING  # the comment question
    citizen.say("não")
    assert citizen.state == State.CLOSED


def test_harness_default_citizen_and_config(civic_harness_factory: Callable[..., Harness]) -> None:
    harness = civic_harness_factory(installed=["jsm"], config={"city": "Lavras"})
    assert harness.engine.registry.slugs == ["jsm"]
    assert "Lavras" in harness.say("oi")
    harness.say(MARIA)
    harness.expect("Junta", state="in_department", department="jsm")
    assert harness.me.address == "5535999990000" and harness.state == harness.me.state


def test_harness_strict_raises_on_a_logged_error() -> None:
    def department_message(department: Department, text: str) -> Any:
        raise RuntimeError("kaboom in the plugin")

    with Harness(Exemplo(department_message=department_message)) as harness:
        harness.say(MARIA)
        with pytest.raises(LoggedError, match=r"(?s)kaboom in the plugin.*citizen: 'qualquer"):
            harness.say("qualquer coisa")
    with Harness(Exemplo(department_message=department_message), strict=False) as lenient:
        lenient.say(MARIA)
        lenient.say("qualquer coisa")  # the only answer failed: an apology, and the team
        lenient.expect("problema técnico", state="waiting_human")
        assert lenient.errors and "kaboom" in str(lenient.errors[0].exc_info)


def test_build_manager_loads_what_is_asked() -> None:
    alone = build_manager([Exemplo()])
    assert alone.get_plugin("procon") is None and alone.get_plugin("exemplo") is not None
    everything = build_manager(installed=True)
    assert {"cac", "procon", "jsm"} <= {name for name, _ in everything.list_name_plugin()}


@pytest.mark.civic(Exemplo(), installed=False)
def test_pytest_plugin_marker_builds_the_harness(civic_harness: Harness) -> None:
    assert civic_harness.engine.registry.slugs == ["exemplo"]


def test_pytest_plugin_default_harness_has_every_installed_department(
    civic_harness: Harness,
) -> None:
    assert {"cac", "procon", "jsm"} <= set(civic_harness.engine.registry.slugs)


# -- the conformance suite catches broken departments -------------------------------------


def _messages(error: BaseException) -> str:
    """Every message of an error and of the errors grouped in it."""
    found = [str(error)]
    for inner in getattr(error, "exceptions", ()):
        found.append(_messages(inner))
    return "\n".join(found)


def _fails(suite: type[DepartmentConformance], check: str, *args: str) -> str:
    """Run one check of ``suite`` and return why it failed (it must fail)."""
    with subject_of(suite) as subject:
        try:
            getattr(suite(), check)(subject, suite.department, *args)
        except BaseException as error:  # pytest.fail's exception is a BaseException
            return _messages(error)
    raise AssertionError(f"{check} passed on a broken department")


class _Quick(DepartmentConformance):
    """Few examples, and a failure is reported as found (not shrunk, not saved)."""

    department = "exemplo"
    max_examples = 3
    stateful_examples = 15
    stateful_steps = 12
    hypothesis_settings: ClassVar[Mapping[str, Any]] = {
        "phases": [Phase.explicit, Phase.generate],
        "database": None,
        # the same examples every run: a random few could miss the broken path
        "derandomize": True,
    }


def test_conformance_catches_a_department_that_raises() -> None:
    def department_message(department: Department, text: str) -> Any:
        raise ZeroDivisionError("the department broke")

    class Raising(_Quick):
        plugin = Exemplo(department_message=department_message)

    why = _fails(Raising, "test_conversations_keep_the_engine_invariants")
    assert "the department broke" in why


def test_conformance_catches_a_message_left_unanswered() -> None:
    def department_message(department: Department, text: str) -> Any:
        return Answer(text="")

    class Silent(_Quick):
        plugin = Exemplo(department_message=department_message)

    why = _fails(Silent, "test_conversations_keep_the_engine_invariants")
    assert "got no answer, and nobody on the team has it" in why


def test_conformance_catches_a_form_warning_that_raises() -> None:
    def warn(value: Any, answers: Any) -> str:
        raise KeyError("warning broke")

    broken = Department(
        slug="exemplo",
        name="Exemplo",
        topics=EXEMPLO.topics,
        forms=EXEMPLO.forms,
        form_warnings={"pedido": {"relato": warn}},
    )

    class Warned(_Quick):
        plugin = Exemplo(broken)

    assert "warning broke" in _fails(Warned, "test_valid_answers_are_accepted", "pedido")


def test_conformance_catches_a_form_no_citizen_can_fill() -> None:
    """A pattern written for the typed phone, never true of the stored digits."""
    impossible = {
        "title": "Contato",
        "properties": {
            "telefone": {
                "title": "Telefone?",
                "type": "string",
                "format": "phone",
                "pattern": "^\\(\\d{2}\\) ",
            }
        },
        "required": ["telefone"],
    }
    broken = Department(
        slug="exemplo",
        name="Exemplo",
        topics=(Topic(title="Contato", form="contato"),),
        forms={"contato": impossible},
    )

    class Impossible(_Quick):
        plugin = Exemplo(broken)

    why = _fails(Impossible, "test_valid_answers_are_accepted", "contato")
    assert "Unable to satisfy assumptions" in why


def test_conformance_catches_an_invalid_form() -> None:
    bad = {"title": "X", "properties": {"placa": {"title": "Placa?", "format": "placa"}}}
    broken = Department(slug="exemplo", name="Exemplo", forms={"x": bad})

    class Invalid(_Quick):
        plugin = Exemplo(broken)

    assert "unknown format 'placa'" in _fails(Invalid, "test_forms_are_valid_civic_forms")
    assert "not a valid civic form" in _fails(Invalid, "test_department_is_registered")


def test_conformance_catches_a_name_taken_by_another_department() -> None:
    clash = Department(slug="consumidor", name="PROCON", keywords=("consumidor",))

    class Clash(_Quick):
        department = "consumidor"
        plugin = Exemplo(clash)

    why = _fails(Clash, "test_keywords_do_not_collide")
    assert "'procon' names both consumidor and procon" in why


def test_conformance_reports_shared_words() -> None:
    sharing = Department(slug="exemplo", name="Exemplo", keywords=("militar", "exemplo"))

    class Sharing(_Quick):
        plugin = Exemplo(sharing)

    with subject_of(Sharing) as subject, pytest.warns(KeywordOverlapWarning) as found:
        Sharing().test_keywords_do_not_collide(subject, "exemplo")
    assert "'militar' (also jsm): asks which of jsm, exemplo" in str(found[0].message)


def test_conformance_runs_from_pytest_with_known_failures(tmp_path: Path) -> None:
    """The one-line form in a fresh pytest: civic's plugin is loaded by its entry point,
    checks are named by department and form, and a known failure that passes is
    reported (``xfail(strict=True)``)."""
    (tmp_path / "test_jsm.py").write_text(
        "from civic.testing import DepartmentConformance\n"
        "\n"
        "class TestJsm(DepartmentConformance):\n"
        "    department = 'jsm'\n"
        "    max_examples = 1\n"
        "    stateful_examples = 1\n"
        "    stateful_steps = 3\n"
        "    known_failures = {'test_forms_are_valid_civic_forms': 'not a bug'}\n"
        "\n"
        "def test_fixture(civic_harness):\n"
        "    assert 'jsm' in civic_harness.engine.registry.slugs\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "test_jsm.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "FAILED test_jsm.py::TestJsm::test_forms_are_valid_civic_forms[jsm]" in out, out
    assert "[XPASS(strict)] not a bug" in out, out
    for passed in (
        "TestJsm::test_department_is_registered[jsm]",
        "TestJsm::test_valid_answers_are_accepted[jsm/atendimento]",
        "TestJsm::test_invalid_answers_are_refused[jsm/atendimento]",
        "TestJsm::test_conversations_keep_the_engine_invariants[jsm]",
        "test_fixture",
    ):
        assert f"PASSED test_jsm.py::{passed}" in out, out


def test_docs_harness_example_runs() -> None:
    """docs/testing.md's harness example is code that works."""
    import re

    docs = (Path(__file__).resolve().parent.parent / "docs" / "testing.md").read_text("utf-8")
    code = re.search(r"<!-- harness-example -->\n```python\n(.*?)```", docs, re.S)
    assert code, "the harness example is missing from docs/testing.md"
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), "docs/testing.md", "exec"), namespace)
    namespace["test_a_complaint_gets_a_protocol"]()
