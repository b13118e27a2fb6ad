"""CAC through the chat: common questions by keyword and the general request form."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from civic.engine import Engine
from civic.states import State
from civic.storage import Storage
from tests.chat import MARIA, Chat

NOW = dt.datetime(2026, 3, 16, 13, 0, tzinfo=dt.UTC)

REQUEST = [
    ("iluminação pública", "Descreva a sua solicitação"),
    ("Poste apagado na Rua das Flores, em frente ao número 120.", "Em qual bairro"),
    ("Centro", "Como prefere receber a resposta"),
    ("2", "Qual telefone"),
    ("(35) 3435-2052", "Confira suas respostas"),
]


@pytest.fixture
def cac(engine: Engine) -> Chat:
    engine.clock = lambda: NOW
    chat = Chat(engine)
    chat.script(MARIA, "1")
    return chat


@pytest.mark.parametrize(
    "question", ["qual o horário de funcionamento?", "qual o endereço?", "segunda via do IPTU"]
)
def test_unconfigured_facts_are_not_stated(cac: Chat, question: str) -> None:
    """Without the city's hours, contacts or services, nothing is invented (issue 10):
    hours and contacts say so; a service is taken as a request."""
    answer = cac.send(question)
    assert "3435" not in answer and "segunda a sexta" not in answer
    taken_as_request = "Assunto: IPTU e outros tributos" in answer  # the subject pre-filled
    assert "ainda não foi cadastrada" in answer or taken_as_request


def test_request_yields_a_protocol(cac: Chat, storage: Storage) -> None:
    assert "Sobre o que é a sua solicitação?" in cac.send("quero fazer uma solicitação")
    for answer, question in REQUEST:
        assert question in cac.send(answer)
    assert "CAC-2026-000001" in cac.send("confirmar")
    with storage.reading() as tx:
        data = json.loads(tx.submission("CAC-2026-000001")["data"])
    assert data == {
        "assunto": "iluminacao",
        "descricao": "Poste apagado na Rua das Flores, em frente ao número 120.",
        "bairro": "Centro",
        "contato": "telefone",
        "telefone": "3534352052",
    }


@pytest.mark.parametrize(
    ("position", "wrong", "complaint"),
    [
        (0, "buraco na lua", "Não encontrei essa opção"),
        (1, "poste", "mais de detalhes"),
        (2, "x", "curta demais"),
        (3, "pombo-correio", "Não encontrei essa opção"),
        (4, "3435-2052", "DDD"),
        (4, "(00) 3435-2052", "DDD 00 não existe"),
    ],
)
def test_wrong_answers_at_every_field(cac: Chat, position: int, wrong: str, complaint: str) -> None:
    cac.send("solicitação")
    for answer, _ in REQUEST[:position]:
        cac.send(answer)
    assert complaint in cac.send(wrong)
    assert cac.state == State.FORM
    assert REQUEST[position][1] in cac.send(REQUEST[position][0])


def test_whatsapp_contact_asks_no_phone(cac: Chat, storage: Storage) -> None:
    cac.send("solicitação")
    cac.script(*[answer for answer, _ in REQUEST[:3]])
    assert "Confira suas respostas" in cac.send("por aqui (whatsapp)")
    cac.send("1")
    with storage.reading() as tx:
        assert json.loads(tx.submission("CAC-2026-000001")["data"])["contato"] == "whatsapp"


def test_correct_contact_after_summary_asks_the_new_field(cac: Chat, storage: Storage) -> None:
    cac.send("solicitação")
    cac.script(*[answer for answer, _ in REQUEST])
    cac.send("corrigir resposta por")
    assert "Qual e-mail?" in cac.send("e-mail")
    assert "5. E-mail: Maria@exemplo.com.br" in cac.send("Maria@Exemplo.com.br")
    cac.send("1")
    with storage.reading() as tx:
        data = json.loads(tx.submission("CAC-2026-000001")["data"])
    assert data["email"] == "Maria@exemplo.com.br" and "telefone" not in data


def test_cancel_at_summary(cac: Chat, storage: Storage) -> None:
    cac.send("solicitação")
    cac.script(*[answer for answer, _ in REQUEST])
    assert "Nada foi enviado" in cac.send("3")
    with storage.reading() as tx:
        assert tx.submission("CAC-2026-000001") is None
