"""PROCON through the chat: consumer-rights answers and the complaint form."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import civic_procon
from civic.engine import Engine
from civic.formats import FORMATS
from civic.forms import form_errors
from civic.states import State
from civic.storage import Storage
from civic_procon.deadlines import damage_passed, defect_passed, withdrawal_passed
from tests.chat import MARIA, Chat
from tests.conftest import SECRET

TODAY = dt.date(2026, 11, 28)
NOW = dt.datetime(2026, 11, 28, 15, 0, tzinfo=dt.UTC)

#: A complaint answered right first time: (answer, what the next question asks). The
#: fridge broke two months after the purchase: no deadline is near (CDC art. 26, §3).
COMPLAINT = [
    ("Magazine Exemplo", "CNPJ (ou CPF) do fornecedor"),
    ("12.ABC.345/01DE-35", "endereço, o site ou o telefone"),
    ("www.magazineexemplo.com.br", "produto ou serviço"),
    ("Geladeira frost free", "tipo de problema"),
    ("produto com defeito ou serviço mal feito", "número do pedido"),
    ("NF 123456", "Em que data foi a compra"),
    ("20/09/2026", "valor pago"),
    ("R$ 2.499,90", "procurou o fornecedor"),
    ("sim", "protocolo do atendimento do fornecedor"),
    ("ATD-99812", "recebeu o produto"),
    ("25/09/2026", "problema apareceu"),
    ("20/11/2026", "Conte o que aconteceu"),
    ("Parou de gelar em dois meses e a loja não troca.", "O que você pede"),
    ("troca do produto", "município"),
    ("Extrema", "Confira suas respostas"),
]
#: Positions in :data:`COMPLAINT`.
CATEGORY, CONTACTED = 4, 8


@pytest.fixture
def procon(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Chat:
    engine.clock = lambda: NOW
    chat = Chat(engine)
    chat.script(MARIA, "procon")
    return chat


def submit(chat: Chat, answers: list[tuple[str, str]]) -> str:
    for answer, next_question in answers:
        reply = chat.send(answer)
        assert next_question in reply, (answer, reply)
    return chat.send("1")


def test_consumer_rights_answers_name_their_article(procon: Chat) -> None:
    assert "art. 49" in procon.send("comprei pela internet e quero desistir")  # then the form
    procon.send("cancelar")
    assert "art. 26" in procon.send("o produto quebrou, qual o prazo?")


def test_whole_complaint_yields_a_protocol(procon: Chat, storage: Storage) -> None:
    """The form asks what a municipal PROCON needs to notify the supplier; after it, the
    citizen is told what happens next and which documents to keep."""
    assert "nome da loja" in procon.send("1")
    done = submit(procon, COMPLAINT)
    assert "PROCON-2026-000001" in done
    assert "O que acontece agora" in done and "Guarde: a nota fiscal" in done
    assert "Atenção" not in done
    assert procon.state == State.OFFERING
    with storage.reading() as tx:
        stored = tx.submission("PROCON-2026-000001")
    assert stored is not None and stored["department"] == "procon"
    assert json.loads(stored["data"]) == {
        "categoria": "defeito",
        "fornecedor": "Magazine Exemplo",
        "fornecedor_documento": "12ABC34501DE35",
        "fornecedor_contato": "www.magazineexemplo.com.br",
        "produto": "Geladeira frost free",
        "numero_pedido": "NF 123456",
        "data_compra": "2026-09-20",
        "valor": "2499.90",
        "contatou_fornecedor": True,
        "protocolo_fornecedor": "ATD-99812",
        "data_recebimento": "2026-09-25",
        "data_problema": "2026-11-20",
        "relato": "Parou de gelar em dois meses e a loja não troca.",
        "pedido": "troca",
        "municipio": "Extrema",
    }
    assert "recebido" in procon.send("status do protocolo PROCON-2026-000001")


@pytest.mark.parametrize(
    ("position", "wrong", "complaint"),
    [
        (0, "x", "curta demais"),
        (1, "12.345.678/0001-00", "dígitos verificadores não conferem"),
        (1, "123", "14 caracteres"),
        (2, "x", "pelo menos 3 letras"),
        (3, "?", "curta demais"),
        (4, "9", "Não encontrei essa opção"),
        (6, "31/02/2026", "não existe"),
        (6, "01/01/2030", "ainda não chegou"),
        (7, "muito caro", "valor em reais"),
        (7, "1,500", "valor em reais"),
        (8, "talvez", "Não encontrei essa opção"),
        (11, "01/01/2030", "ainda não chegou"),
        (12, "ruim", "mais de detalhes"),
        (13, "devolver tudo", "Não encontrei essa opção"),
    ],
)
def test_wrong_answers_are_explained_and_asked_again(
    procon: Chat, position: int, wrong: str, complaint: str
) -> None:
    procon.send("1")
    for answer, _ in COMPLAINT[:position]:
        procon.send(answer)
    reply = procon.send(wrong)
    assert complaint in reply
    assert procon.state == State.FORM
    answer, next_question = COMPLAINT[position]
    assert next_question in procon.send(answer)


def _until(procon: Chat, position: int, category: str = COMPLAINT[CATEGORY][0]) -> None:
    """Start the form and answer it up to ``position``, choosing ``category``."""
    procon.send("1")
    for index, (answer, _) in enumerate(COMPLAINT[:position]):
        procon.send(category if index == CATEGORY else answer)


def test_a_defect_evident_long_ago_warns_but_never_blocks(procon: Chat) -> None:
    """CDC art. 26, §3 and §2 I: 91 days after the defect appeared, with no complaint to the
    supplier, the 90 days of durable goods are over; the complaint goes on all the same."""
    _until(procon, CONTACTED)
    procon.send("não")
    procon.send("01/06/2026")
    reply = procon.send("29/08/2026")  # 91 days before 28/11/2026
    assert "art. 26" in reply and "será registrada mesmo assim" in reply
    assert "a equipe vai analisar os prazos" in reply
    assert "Conte o que aconteceu" in reply


def test_a_late_withdrawal_warns_but_never_blocks(procon: Chat) -> None:
    """CDC art. 49: 8 days after the receipt the 7 days of withdrawal are over."""
    _until(
        procon, CONTACTED, "desistir de uma compra feita fora da loja (internet, telefone, em casa)"
    )
    procon.send("não")
    reply = procon.send("20/11/2026")  # the 8th day
    assert "art. 49" in reply and "será registrada mesmo assim" in reply
    assert "problema apareceu" not in reply  # asked only for a defect or damage
    assert "Conte o que aconteceu" in reply


def test_skip_optional_and_no_supplier_contact(procon: Chat, storage: Storage) -> None:
    """Amount, dates of purchase, order number and the supplier's CNPJ are optional; a
    charge needs no receipt or problem date (CDC art. 26 does not apply, art. 42)."""
    procon.send("registrar reclamação")
    answers = [
        ("Loja do Bairro", "CNPJ"),
        ("pular", "endereço, o site ou o telefone"),
        ("Rua das Flores, 10", "produto"),
        ("Plano de internet", "tipo de problema"),
        ("cobrança indevida ou a mais", "número do pedido"),
        ("pular", "Em que data foi a compra"),
        ("pular", "valor pago"),
        ("pular", "procurou o fornecedor"),
        ("não", "Conte o que aconteceu"),
        ("Cobraram duas vezes a mensalidade de outubro.", "O que você pede"),
        ("cancelamento de uma cobrança", "município"),
        ("Itapeva", "Confira suas respostas"),
    ]
    assert "PROCON-2026-000001" in submit(procon, answers)
    with storage.reading() as tx:
        data = json.loads(tx.submission("PROCON-2026-000001")["data"])
    assert data == {
        "categoria": "cobranca",
        "fornecedor": "Loja do Bairro",
        "fornecedor_contato": "Rua das Flores, 10",
        "produto": "Plano de internet",
        "contatou_fornecedor": False,
        "relato": "Cobraram duas vezes a mensalidade de outubro.",
        "pedido": "cancelar_cobranca",
        "municipio": "Itapeva",
    }


@pytest.mark.parametrize(
    ("label", "value"),
    [
        ("Entrega do produto ou do serviço", "entrega"),
        ("Cumprimento da oferta ou da propaganda", "oferta"),
        ("Cancelamento de uma cobrança", "cancelar_cobranca"),
        ("Abatimento (redução) no preço", "abatimento"),
    ],
)
def test_requests_a_procon_handles(label: str, value: str) -> None:
    """The requests of a consumer: delivery and honouring the offer (CDC art. 35), cancelling
    a charge (art. 42), a price reduction (art. 18, §1, III)."""
    choices = civic_procon.DEPARTMENT.forms["reclamacao"]["properties"]["pedido"]["oneOf"]
    assert {"const": value, "title": label} in choices


def test_the_form_is_a_valid_civic_form() -> None:
    schema = civic_procon.DEPARTMENT.forms["reclamacao"]
    assert form_errors(schema, formats=FORMATS) == []
    assert set(schema["required"]) == {
        "categoria", "fornecedor", "fornecedor_contato", "produto",
        "contatou_fornecedor", "relato", "pedido", "municipio",
    }  # fmt: skip


def test_correction_after_the_summary(procon: Chat, storage: Storage) -> None:
    procon.send("1")
    for answer, _ in COMPLAINT:
        procon.send(answer)
    assert "Resposta atual: R$ 2.499,90" in procon.send("corrigir valor pago")
    summary = procon.send("R$ 2.399,90")
    assert "Valor pago: R$ 2.399,90" in summary
    procon.send("corrigir 9")  # "Procurou o fornecedor": now no
    summary = procon.send("não")
    assert "Protocolo do fornecedor" not in summary
    assert "PROCON-2026-000001" in procon.send("1")
    with storage.reading() as tx:
        data = json.loads(tx.submission("PROCON-2026-000001")["data"])
    assert data["valor"] == "2399.90" and "protocolo_fornecedor" not in data


def test_cancel_keeps_nothing(procon: Chat, storage: Storage) -> None:
    procon.send("1")
    procon.script(*[answer for answer, _ in COMPLAINT[:3]])
    assert "nada foi enviado" in procon.send("cancelar").lower()
    assert procon.state == State.DEPARTMENT
    with storage.reading() as tx:
        assert tx.submission("PROCON-2026-000001") is None


def test_only_procon_enabled(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    from civic.config import parse_config

    engine = Engine(storage, secret=SECRET, config=parse_config({"enabled": ["procon"]}))
    engine.clock = lambda: NOW
    chat = Chat(engine)
    answer = chat.send(MARIA)
    # With one department there is no menu: the citizen is in PROCON straight away.
    assert "Você está no PROCON" in answer and "CAC" not in answer
    assert chat.state == State.DEPARTMENT
    assert "nome da loja" in chat.send("quero fazer uma reclamação de uma loja")


def test_voltar_inside_the_form_stays_in_the_form(procon: Chat) -> None:
    procon.send("1")
    for answer, _ in COMPLAINT:
        procon.send(answer)
    assert "Qual resposta você quer corrigir?" in procon.send("corrigir")
    assert "Confira suas respostas" in procon.send("voltar")
    assert procon.state == State.FORM
    assert "PROCON-2026-000001" in procon.send("1")


def test_menu_leaves_the_form_saying_nothing_was_sent(procon: Chat, storage: Storage) -> None:
    procon.send("1")
    procon.send(COMPLAINT[0][0])
    answer = procon.send("menu")
    assert "nada foi enviado" in answer and "1. CAC" in answer
    assert procon.state == State.CHOOSING


@pytest.mark.parametrize(
    "question",
    [
        "status do protocolo PROCON-2026-000001",
        "qual o status do PROCON-2026-000001?",
        "protocolo: PROCON 2026 000001",
        "procon-2026-000001",
    ],
)
def test_protocol_status_as_people_ask_for_it(procon: Chat, question: str) -> None:
    procon.send("1")
    submit(procon, COMPLAINT)
    procon.send("sim")
    assert "PROCON-2026-000001 (PROCON)" in procon.send(question)


# -- the CDC deadlines, on their boundary days ---------------------------------------

DAY = dt.date(2026, 3, 1)


@pytest.mark.parametrize(
    ("received", "today", "passed"),
    [
        (DAY, DAY, False),
        (DAY, dt.date(2026, 3, 8), False),  # the 7th day after the receipt
        (DAY, dt.date(2026, 3, 9), True),  # the 8th day
        (dt.date(2026, 12, 28), dt.date(2027, 1, 4), False),  # across the new year
        (dt.date(2026, 12, 28), dt.date(2027, 1, 5), True),
    ],
)
def test_withdrawal_counts_7_days_from_the_receipt(
    received: dt.date, today: dt.date, passed: bool
) -> None:
    """CDC (Lei 8.078/1990) art. 49: 7 days from the signature or the receipt; the first day
    is left out and the last included (Código Civil, art. 132)."""
    assert withdrawal_passed(received, today) is passed


@pytest.mark.parametrize(
    ("days", "complained", "passed"),
    [
        (30, False, False),  # the 30th day: within even for non-durable goods
        (31, False, False),  # the 31st: past for non-durable, but durability is unknown
        (90, False, False),  # the 90th day: within for durable goods
        (91, False, True),  # the 91st: plainly past
        (91, True, False),  # a documented complaint to the supplier suspends it
        (400, True, False),
    ],
)
def test_defect_deadline_counts_from_when_the_defect_appeared(
    days: int, complained: bool, passed: bool
) -> None:
    """CDC (Lei 8.078/1990) art. 26, I and II: 30 days (non-durable) or 90 days (durable);
    §3: a hidden defect counts from when it becomes evident; §2, I: a documented complaint
    to the supplier suspends the deadline. Only the plain case (past 90 days, no complaint)
    warns."""
    evident = DAY - dt.timedelta(days=days)
    assert defect_passed(evident, DAY, complained=complained) is passed


@pytest.mark.parametrize(
    ("known", "today", "passed"),
    [
        (dt.date(2021, 3, 1), dt.date(2026, 3, 1), False),  # the last day of 5 years
        (dt.date(2021, 3, 1), dt.date(2026, 3, 2), True),
        (dt.date(2024, 2, 29), dt.date(2029, 2, 28), False),
        (dt.date(2024, 2, 29), dt.date(2029, 3, 1), True),
    ],
)
def test_damage_deadline_is_5_years(known: dt.date, today: dt.date, passed: bool) -> None:
    """CDC (Lei 8.078/1990) art. 27: 5 years from the knowledge of the damage and of who
    caused it."""
    assert damage_passed(known, today) is passed


TODAY_WARN = dt.date(2026, 11, 28)


@pytest.mark.parametrize(
    ("field", "answers", "day", "article"),
    [
        ("data_problema", {"categoria": "defeito"}, dt.date(2026, 8, 30), None),  # 90th day
        ("data_problema", {"categoria": "defeito"}, dt.date(2026, 8, 29), "art. 26"),  # 91st
        (
            "data_problema",
            {"categoria": "defeito", "contatou_fornecedor": True},
            dt.date(2026, 8, 29),
            None,
        ),
        # The fridge that broke two months after the purchase: no warning.
        ("data_problema", {"categoria": "defeito"}, dt.date(2026, 11, 20), None),
        ("data_problema", {"categoria": "dano"}, dt.date(2021, 11, 28), None),
        ("data_problema", {"categoria": "dano"}, dt.date(2021, 11, 27), "art. 27"),
        ("data_recebimento", {"categoria": "arrependimento"}, dt.date(2026, 11, 21), None),
        ("data_recebimento", {"categoria": "arrependimento"}, dt.date(2026, 11, 20), "art. 49"),
        # Art. 49 is about withdrawal only; a defect's receipt date does not warn.
        ("data_recebimento", {"categoria": "defeito"}, dt.date(2025, 1, 1), None),
    ],
)
def test_warnings_only_when_a_rule_plainly_applies(
    field: str, answers: dict[str, object], day: dt.date, article: str | None
) -> None:
    """CDC (Lei 8.078/1990) arts. 26 (§2 I, §3), 27 and 49: a warning names its article and
    says the staff will analyse the deadlines; none when the rule does not plainly apply."""
    warn = civic_procon.DEPARTMENT.form_warnings["reclamacao"][field]
    message = warn(day.isoformat(), answers, TODAY_WARN)
    if article is None:
        assert message is None
    else:
        assert message is not None and article in message
        assert "a equipe vai analisar os prazos" in message


def test_supplier_has_30_days_to_fix(procon: Chat) -> None:
    """CDC (Lei 8.078/1990) art. 18, §1: 30 days to fix, then the consumer chooses
    replacement, refund or a proportional price reduction."""
    answer = procon.send("a assistencia tecnica nao fez o conserto")
    assert "30 dias" in answer and "art. 18" in answer and "abatimento" in answer
