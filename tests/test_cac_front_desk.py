"""CAC as a Casa do Cidadão's front desk (issue 10, item 5): answers from the city's
configuration only, requests taken when a service is not configured, and no other city's
facts anywhere."""

from __future__ import annotations

import datetime as dt
import itertools
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

import civic_cac
import civic_procon
from civic.config import parse_config
from civic.engine import Engine
from civic.plugins import load_plugins
from civic.storage import Storage
from tests.chat import MARIA, Chat
from tests.conftest import SECRET, make_storage

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
    assert "das 9h às 12h" in chat.send("que horas abre?")
    chat.send("sim")
    answer = chat.send("qual o telefone?")
    assert "Telefone: (11) 4000-1234" in answer and "Endereço: Praça 1" in answer


#: The request form answered right first time, after its first question.
REQUEST = (
    "iluminação pública",
    "Poste apagado na Rua das Flores, em frente ao número 120.",
    "Centro",
    "2",
    "(11) 4000-1234",
)


@pytest.mark.parametrize(
    ("days", "said"),
    [
        (15, "Prazo de resposta: até 15 dias."),
        (1, "Prazo de resposta: até 1 dia."),
        (None, None),
        ("15 dias", None),  # not a number of days: nothing is said rather than a guess
    ],
)
def test_a_request_says_the_deadline_the_city_declared(
    storage: Storage, days: object, said: str | None
) -> None:
    """A service taken as a request, or a request chosen from the menu, tells the answer
    deadline of ``[departments.cac] deadline_days`` (Lei 13.460/2017 art. 23's, as the
    reports count it); without one, nothing about it (issue 10, item 5)."""
    cac: dict[str, object] = {"services": SERVICES}
    if days is not None:
        cac["deadline_days"] = days
    chat = chat_with(storage, {"departments": {"cac": cac}})
    for question, form_opens_with in (
        ("quero uma certidão negativa", "Assunto: Documentos e certidões"),  # pre-filled
        ("quero fazer uma solicitação", "Sobre o que é a sua solicitação?"),
    ):
        answer = chat.send(question)
        assert form_opens_with in answer
        if said is None:
            assert "Prazo" not in answer
        else:
            assert answer.startswith(said)
        chat.send("menu")
        chat.send("cac")


def test_the_confirmation_says_no_deadline_the_city_did_not_declare(storage: Storage) -> None:
    chat = chat_with(storage, {})
    chat.send("quero fazer uma solicitação")
    chat.script(*REQUEST)
    done = chat.send("1")
    assert "CAC-2026-000001" in done and "Prazo" not in done


def test_the_confirmation_says_the_deadline(storage: Storage) -> None:
    """After a request is submitted, the confirmation tells the deadline too."""
    chat = chat_with(storage, {"departments": {"cac": {"deadline_days": 15}}})
    chat.send("quero fazer uma solicitação")
    chat.script(*REQUEST)
    done = chat.send("1")
    assert "CAC-2026-000001" in done
    assert done.index("Prazo de resposta: até 15 dias.") > done.index("CAC-2026-000001")


EXTREMA = ("Extrema", "3435", "9839", "8415", "8412", "4,21", "extrema.mg.gov.br")
#: examples/civic.toml switched to another city: its name, hours and phone numbers.
OTHER_CITY = (
    ("Extrema", "Paraisópolis"),
    ("extrema", "paraisopolis"),
    ("(35) 9 9839-1153", "(35) 9 1111-2222"),
    ("(35) 3435-2052", "(35) 3651-0000"),
    ("(35) 9 8415-6302", "(35) 9 3333-4444"),
    ("(35) 9 8412-8058", "(35) 9 5555-6666"),
    ('"R$ 4,21"', '"R$ 5,00"'),
    ("08:00-11:30", "07:30-11:00"),
)
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
    # Every CAC and PROCON topic, by its number in the department's menu.
    *(("1", str(number)) for number in range(1, len(civic_cac.DEPARTMENT.topics) + 1)),
    *(("2", str(number)) for number in range(1, len(civic_procon.DEPARTMENT.topics) + 1)),
]
#: A CAC request and a PROCON complaint in the other city, to the confirmation; the
#: complaint's late withdrawal brings the art. 49 warning too.
SUBMISSIONS = {
    "cac": (
        "1",
        "1",
        "iluminação pública",
        "Poste apagado na Rua das Flores, em frente ao número 120.",
        "Centro",
        "2",
        "(35) 3651-9999",
        "1",
    ),
    "procon": (
        "2",
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
        "01/03/2026",
        "Desisti da compra no dia seguinte e a loja não devolve o dinheiro.",
        "devolução do dinheiro",
        "Paraisópolis",
        "1",
    ),
}
_addresses = itertools.count(1)


@pytest.fixture(scope="module")
def other_city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One engine for examples/civic.toml switched to another city; each case talks
    from a new address."""
    text = EXAMPLE.read_text(encoding="utf-8")
    for old, new in OTHER_CITY:
        text = text.replace(old, new)
    storage = make_storage("sqlite", tmp_path_factory.mktemp("other_city"))
    yield Engine(
        storage,
        secret=SECRET,
        manager=load_plugins(),
        config=parse_config(tomllib.loads(text)),
        clock=lambda: NOW,
    )
    storage.close()


def extremas_facts(answer: str) -> list[str]:
    return [fact for fact in EXTREMA if fact in answer]


@pytest.mark.parametrize(("menu", "question"), QUESTIONS)
def test_another_city_never_hears_extremas_facts(
    other_city: Engine, menu: str, question: str
) -> None:
    """examples/civic.toml with another city's name, hours and phones: no answer of any
    department mentions Extrema's (issue 10, "Done when")."""
    chat = Chat(other_city, address=f"55359{next(_addresses):08d}")
    said = [chat.send(MARIA), chat.send(menu), chat.send(question)]
    for answer in said:
        assert not extremas_facts(answer), answer


@pytest.mark.parametrize("slug", sorted(SUBMISSIONS))
def test_another_city_submits_without_extremas_facts(other_city: Engine, slug: str) -> None:
    """A request and a complaint in another city, from the first question to the
    confirmation, its next steps and warnings: nothing of Extrema's."""
    chat = Chat(other_city, address=f"55359{next(_addresses):08d}")
    said = [chat.send(MARIA)] + [chat.send(line) for line in SUBMISSIONS[slug]]
    assert f"{slug.upper()}-2026-" in said[-1]
    assert chat.state == "offering_help"
    for answer in said:
        assert not extremas_facts(answer), answer
    if slug == "procon":
        assert any("art. 49" in answer for answer in said)
        assert "O que acontece agora" in said[-1]


def test_config_check_knows_the_front_desk_settings() -> None:
    from civic.config import config_problems

    good = {"departments": {"cac": {"keywords": ["sedese"], "services": SERVICES}}}
    assert config_problems(good) == []
    bad = {"departments": {"cac": {"keywords": "sedese", "services": {"iptu": {"quem": "x"}}}}}
    assert len(config_problems(bad)) == 2
