"""CAC as a Casa do Cidadão's front desk (issue 10, item 5): answers from the city's
configuration only, requests taken when a service is not configured, and no other city's
facts anywhere."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest

from civic.config import parse_config
from civic.engine import Engine
from civic.plugins import load_plugins
from civic.storage import Storage
from tests.chat import MARIA, Chat
from tests.conftest import SECRET

NOW = dt.datetime(2026, 3, 16, 13, 0, tzinfo=dt.UTC)
EXAMPLE = Path(__file__).parent.parent / "examples" / "civic.toml"

SERVICES = {
    "iptu": {
        "who": "o Setor de Tributos",
        "where": "no guichê 3",
        "how": "leve o número da inscrição do imóvel",
        "how_long": "na hora",
        "site": "https://tributos.exemplo.gov.br",
    },
    "assistencia_social": {"who": "o CRAS Centro", "where": "na Rua das Acácias, 40"},
}


def chat_with(storage: Storage, raw: dict) -> Chat:
    engine = Engine(
        storage, secret=SECRET, manager=load_plugins(), config=parse_config(raw), clock=lambda: NOW
    )
    chat = Chat(engine)
    chat.script(MARIA, "1")
    return chat


def test_a_configured_service_says_who_where_and_how_long(storage: Storage) -> None:
    chat = chat_with(storage, {"departments": {"cac": {"services": SERVICES}}})
    answer = chat.send("preciso da segunda via do carne do iptu")
    for fragment in ("Quem cuida: o Setor de Tributos.", "Onde: no guichê 3.", "Prazo: na hora."):
        assert fragment in answer
    assert "Pela internet: https://tributos.exemplo.gov.br" in answer
    assert "Posso ajudar em algo mais?" in answer
    chat.send("sim")
    answer = chat.send("onde fica o cras")
    assert "Quem cuida: o CRAS Centro." in answer and "Rua das Acácias, 40" in answer
    assert "Prazo" not in answer  # not configured: not said


def test_a_service_not_configured_is_taken_as_a_request(storage: Storage) -> None:
    chat = chat_with(storage, {"departments": {"cac": {"services": SERVICES}}})
    answer = chat.send("quero uma certidão negativa")
    assert chat.state == "filling_form"
    assert "Assunto: Documentos e certidões" in answer  # the form noted what was asked
    assert "Descreva a sua solicitação." in answer


def test_hours_and_contacts_come_from_the_city(storage: Storage) -> None:
    raw = {
        "hours": {"mon": ["09:00-12:00"], "wed": ["09:00-12:00"]},
        "departments": {"cac": {"contacts": {"phone": "(11) 4000-1234", "address": "Praça 1"}}},
    }
    chat = chat_with(storage, raw)
    assert "09:00–12:00" in chat.send("que horas abre?")
    chat.send("sim")
    answer = chat.send("qual o telefone?")
    assert "Telefone: (11) 4000-1234" in answer and "Endereço: Praça 1" in answer


EXTREMA = ("Extrema", "3435", "9839", "8415", "8412", "4,21", "extrema.mg.gov.br")
QUESTIONS = [
    ("1", "qual o horário de funcionamento?"),
    ("1", "qual o endereço?"),
    ("1", "qual o telefone?"),
    ("1", "segunda via do iptu"),
    ("1", "onde fica o cras"),
    ("1", "quero agendar atendimento"),
    ("2", "horario"),
    ("2", "telefone"),
    ("2", "direito de arrependimento"),
    ("3", "quero me alistar"),
    ("3", "horario"),
    ("3", "reservista"),
]


@pytest.mark.parametrize(("menu", "question"), QUESTIONS)
def test_another_city_never_hears_extremas_facts(
    storage: Storage, menu: str, question: str
) -> None:
    """examples/civic.toml with another city's name, hours and phones: no answer of any
    department mentions Extrema's (issue 10, "Done when")."""
    text = EXAMPLE.read_text(encoding="utf-8")
    for old, new in (
        ("Extrema", "Paraisópolis"),
        ("extrema", "paraisopolis"),
        ("(35) 9 9839-1153", "(35) 9 1111-2222"),
        ("(35) 3435-2052", "(35) 3651-0000"),
        ("(35) 9 8415-6302", "(35) 9 3333-4444"),
        ("(35) 9 8412-8058", "(35) 9 5555-6666"),
        ('"R$ 4,21"', '"R$ 5,00"'),
        ("08:00-11:30", "07:30-11:00"),
    ):
        text = text.replace(old, new)
    engine = Engine(
        storage,
        secret=SECRET,
        manager=load_plugins(),
        config=parse_config(tomllib.loads(text)),
        clock=lambda: NOW,
    )
    chat = Chat(engine)
    said = [chat.send(MARIA), chat.send(menu), chat.send(question)]
    for answer in said:
        assert not [fact for fact in EXTREMA if fact in answer], answer


def test_config_check_knows_the_front_desk_settings() -> None:
    from civic.config import config_problems

    good = {"departments": {"cac": {"keywords": ["sedese"], "services": SERVICES}}}
    assert config_problems(good) == []
    bad = {"departments": {"cac": {"keywords": "sedese", "services": {"iptu": {"quem": "x"}}}}}
    assert len(config_problems(bad)) == 2
