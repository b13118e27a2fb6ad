"""PROCON through the chat: consumer-rights answers and the complaint form."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from civic.engine import Engine
from civic.states import State
from civic.storage import Storage
from tests.chat import MARIA, Chat
from tests.conftest import SECRET

TODAY = dt.date(2026, 11, 28)
NOW = dt.datetime(2026, 11, 28, 15, 0, tzinfo=dt.UTC)

#: A complaint answered right first time: (answer, what the next question asks).
COMPLAINT = [
    ("Magazine Exemplo", "CNPJ (ou CPF) do fornecedor"),
    ("12.ABC.345/01DE-35", "produto ou serviço"),
    ("Geladeira frost free", "Onde foi a compra"),
    ("fora da loja: internet, telefone ou em casa", "Em que data"),
    ("20/11/2026", "valor pago"),
    ("R$ 2.499,90", "Conte o que aconteceu"),
    ("Parou de gelar em uma semana e a loja não troca.", "procurou o fornecedor"),
    ("sim", "protocolo do atendimento do fornecedor"),
    ("ATD-99812", "O que você pede"),
    ("troca do produto", "Confira suas respostas"),
]


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
    assert "art. 49" in procon.send("comprei pela internet e quero desistir")
    procon.send("sim")
    procon.send("procon")
    assert "art. 26" in procon.send("o produto quebrou, qual o prazo?")


def test_whole_complaint_yields_a_protocol(procon: Chat, storage: Storage) -> None:
    assert "nome da loja" in procon.send("1")
    done = submit(procon, COMPLAINT)
    assert "PROCON-2026-000001" in done
    assert procon.state == State.OFFERING
    with storage.reading() as tx:
        stored = tx.submission("PROCON-2026-000001")
    assert stored is not None and stored["department"] == "procon"
    assert json.loads(stored["data"]) == {
        "fornecedor": "Magazine Exemplo",
        "fornecedor_documento": "12ABC34501DE35",
        "produto": "Geladeira frost free",
        "local_compra": "fora",
        "data_compra": "2026-11-20",
        "valor": "2499.90",
        "relato": "Parou de gelar em uma semana e a loja não troca.",
        "contatou_fornecedor": True,
        "protocolo_fornecedor": "ATD-99812",
        "pedido": "troca",
    }
    assert "recebido" in procon.send("status do protocolo PROCON-2026-000001")


@pytest.mark.parametrize(
    ("position", "wrong", "complaint"),
    [
        (0, "x", "curta demais"),
        (1, "12.345.678/0001-00", "dígitos verificadores não conferem"),
        (1, "123", "14 caracteres"),
        (2, "?", "curta demais"),
        (3, "7", "Não encontrei essa opção"),
        (4, "31/02/2026", "não existe"),
        (4, "01/01/2030", "ainda não chegou"),
        (5, "muito caro", "valor em reais"),
        (5, "1,500", "valor em reais"),
        (6, "ruim", "mais de detalhes"),
        (7, "talvez", "Não encontrei essa opção"),
        (9, "devolver tudo", "Não encontrei essa opção"),
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


def test_old_purchase_warns_but_never_blocks(procon: Chat) -> None:
    procon.send("1")
    for answer, _ in COMPLAINT[:4]:
        procon.send(answer)
    reply = procon.send("01/03/2026")
    assert "art. 49" in reply and "art. 26" in reply
    assert "será registrada mesmo assim" in reply
    assert "valor pago" in reply


def test_skip_optional_and_no_supplier_contact(procon: Chat, storage: Storage) -> None:
    procon.send("registrar reclamação")
    answers = [
        ("Loja do Bairro", "CNPJ"),
        ("pular", "produto"),
        *COMPLAINT[2:7],
        ("não", "O que você pede"),
        ("5", "Descreva o que você pede"),
        ("Quero meu dinheiro e uma indenização", "Confira suas respostas"),
    ]
    assert "PROCON-2026-000001" in submit(procon, answers)
    with storage.reading() as tx:
        data = json.loads(tx.submission("PROCON-2026-000001")["data"])
    assert "fornecedor_documento" not in data and "protocolo_fornecedor" not in data
    assert data["pedido"] == "outro" and data["contatou_fornecedor"] is False


def test_correction_after_the_summary(procon: Chat, storage: Storage) -> None:
    procon.send("1")
    for answer, _ in COMPLAINT:
        procon.send(answer)
    assert "Resposta atual: R$ 2.499,90" in procon.send("corrigir valor pago")
    summary = procon.send("R$ 2.399,90")
    assert "Valor pago: R$ 2.399,90" in summary
    procon.send("corrigir 8")  # "Procurou o fornecedor": now no
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
