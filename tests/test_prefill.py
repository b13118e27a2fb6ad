"""What the citizen wrote first is kept (issue 10, item 2): the request typed with the
name and CPF, or before identifying, or in a department before its form starts, routes
the conversation and pre-fills the form, which asks only what is missing and says what
it noted."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import SQLModel

from civic import request
from civic.config import Config
from civic.context import Context
from civic.engine import Engine
from civic.forms import FormRunner, build_format_checker, form_errors
from civic.plugins import load_plugins
from civic.reading import read
from civic.states import State
from civic.storage import Storage
from civic.texts import Texts
from civic_cac import DEPARTMENT as CAC
from civic_procon import DEPARTMENT as PROCON
from tests.chat import MARIA, Chat
from tests.conftest import SECRET
from tests.strategies import CPF_STYLES, formatted_cpf, names, valid_cpfs

TEXTS = Texts()
IDENTITY_FILLERS = TEXTS.words("identity_fillers")
REQUEST_FILLERS = TEXTS.words("request_fillers")
GELADEIRA = "quero reclamar da loja que não entregou minha geladeira"
NOTED = "Anotei o que você já contou:"


def runner(schema: dict) -> FormRunner:
    return FormRunner("test", schema, TEXTS, build_format_checker(load_plugins()))


# -- what is left of the identification message ---------------------------------------


#: An identification message, the name found in it, and what is left to route.
# fmt: off
LEFTOVERS = [
    (f"Maria da Silva 529.982.247-25 {GELADEIRA}", "Maria da Silva", GELADEIRA),
    ("Oi, bom dia! Meu nome é Maria da Silva, CPF 529.982.247-25.", "Maria da Silva", ""),
    ("Oi, Maria da Silva 529.982.247-25, tudo bem?", "Maria da Silva", ""),
    ("meu cpf é 529.982.247-25 e meu nome é Maria da Silva, o lixo não foi recolhido",
     "Maria da Silva", "o lixo não foi recolhido"),
    ("Maria da Silva, 529.982.247-25, a loja não entregou.", "Maria da Silva",
     "a loja não entregou."),
    ("quero reclamar da loja, sou a Maria da Silva 529.982.247-25", "Maria da Silva",
     "quero reclamar da loja"),
    ("MARIA DA SILVA 52998224725 buraco na rua", "Maria da Silva", "buraco na rua"),
    ("Maria da Silva quero reclamar 529.982.247-25 da loja", "Maria da Silva",
     "quero reclamar da loja"),
    ("CPF: 529 982 247 25 - nome: Conceição Araújo", "Conceição Araújo", ""),
    ("529.982.247-25 minha rua ta sem luz", "Maria", "minha rua ta sem luz"),
    # the CPF typed twice goes twice; another CPF-looking number is masked
    ("Maria 529.982.247-25 (52998224725) buraco na rua", "Maria", "buraco na rua"),
    ("Maria 529.982.247-25 o CPF 111.444.777-35 da minha mãe", "Maria",
     "o CPF ***.444.777-** da minha mãe"),
]
# fmt: on


@pytest.mark.parametrize(("message", "name", "rest"), LEFTOVERS)
def test_the_leftover_is_the_message_without_name_and_cpf(
    message: str, name: str, rest: str
) -> None:
    left = request.leftover(read(message), name, "52998224725", IDENTITY_FILLERS)
    assert request.kept(left) == rest


@given(digits=valid_cpfs(), style=CPF_STYLES, name=names, order=st.booleans())
def test_the_leftover_never_holds_the_cpf_nor_the_name(
    digits: str, style: int, name: str, order: bool
) -> None:
    typed = formatted_cpf(digits, style)
    message = f"{name} {typed} {GELADEIRA}" if order else f"{typed}, {name}, {GELADEIRA}"
    rest = request.leftover(read(message), name, digits, IDENTITY_FILLERS)
    assert rest == GELADEIRA
    assert digits[3:9] not in rest.replace(".", "").replace(" ", "")


@pytest.mark.parametrize(
    ("text", "describes"),
    [
        ("a loja não entregou minha geladeira", True),
        ("o postinho ta sem medico faz uma semana", True),
        ("tem um buraco enorme na minha rua", True),
        ("quero fazer uma reclamação", False),
        ("quero reclamar da loja", False),
        ("reclamação contra a loja de celular", False),
        ("buraco na rua", False),
        ("1", False),
        ("", False),
    ],
)
def test_a_description_says_more_than_the_kind_of_request(text: str, describes: bool) -> None:
    assert request.describes(text, REQUEST_FILLERS) is describes


# -- what a form's declarations infer ----------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (["buraco na rua"], {"assunto": "pavimentacao"}),
        (["poste apagado"], {"assunto": "iluminacao"}),
        (
            ["tem um buraco enorme na minha rua"],
            {"assunto": "pavimentacao", "descricao": "tem um buraco enorme na minha rua"},
        ),
        # two subjects named: no choice is inferred, the description is kept
        (
            ["o galho da arvore caiu em cima do poste"],
            {"descricao": "o galho da arvore caiu em cima do poste"},
        ),
        (["quero fazer uma solicitação"], {}),
        (
            ["esgoto a ceu aberto na rua de cima"],
            {"descricao": "esgoto a ceu aberto na rua de cima"},
        ),
        # the kept words and the message that started the form, once each
        (
            ["o lixo não foi recolhido essa semana", "1", "o lixo não foi recolhido essa semana"],
            {"assunto": "limpeza", "descricao": "o lixo não foi recolhido essa semana"},
        ),
    ],
)
def test_cac_request_answers(parts: list[str], expected: dict[str, str]) -> None:
    schema = CAC.forms["solicitacao"]
    assert request.form_answers(schema, parts, REQUEST_FILLERS) == expected


def test_procon_complaint_answers() -> None:
    schema = PROCON.forms["reclamacao"]
    found = request.form_answers(
        schema, ["a loja não entregou minha geladeira", "quero registrar"], REQUEST_FILLERS
    )
    assert found == {"categoria": "entrega", "relato": "a loja não entregou minha geladeira"}
    found = request.form_answers(schema, ["a tv quebrou e ainda cobraram a mais"], REQUEST_FILLERS)
    assert "categoria" not in found  # a defect and an overcharge: the citizen chooses


FORM = {
    "title": "Teste",
    "properties": {
        "tipo": {"title": "Tipo?",
                 "oneOf": [{"const": "a", "title": "A"}, {"const": "b", "title": "B"}]},
        "texto": {"title": "Conte.", "x-civic-label": "Relato", "type": "string", "minLength": 10,
                  "maxLength": 40},
        "tem": {"title": "Tem protocolo?", "type": "boolean"},
        "protocolo": {"title": "Qual protocolo?", "type": "string"},
        "bairro": {"title": "Bairro?", "type": "string"},
    },
    "required": ["tipo", "texto", "tem", "bairro"],
    "if": {"properties": {"tem": {"const": True}}, "required": ["tem"]},
    "then": {"required": ["protocolo"]},
}  # fmt: skip


def test_the_runner_keeps_the_answers_its_fields_accept_and_says_so() -> None:
    step = runner(FORM).start({"tipo": "b", "texto": "a loja não entregou nada"})
    (reply,) = step.replies
    assert reply.text.startswith(NOTED)
    assert "tipo: B" not in reply.text and "Tipo?: B" in reply.text  # the label or question
    assert "Relato: a loja não entregou nada" in reply.text
    assert "corrigir no resumo" in reply.text
    assert reply.text.endswith("Tem protocolo?\nResponda com o número ou o nome da opção.")
    assert step.progress["answers"] == {"tipo": "b", "texto": "a loja não entregou nada"}


@pytest.mark.parametrize(
    "prefill",
    [
        {"tipo": "c"},  # not an option
        {"texto": "curto"},  # too short
        {"texto": "x" * 41},  # too long
        {"texto": "\u200b \u200b"},  # nothing once cleaned
        {"protocolo": "ATD-1"},  # a field its condition hides
        {"nenhum": "campo"},  # no such field
        {},
    ],
)
def test_the_runner_drops_what_its_fields_refuse(prefill: dict[str, str]) -> None:
    step = runner(FORM).start(prefill)
    assert step.progress["answers"] == {}
    assert NOTED not in step.replies[0].text
    assert step.replies[0].text.startswith("Tipo?")


TODAY = dt.date(2026, 11, 29)


def test_a_prefilled_answer_is_changed_at_the_summary() -> None:
    form = runner(FORM)
    step = form.start({"texto": "a loja não entregou nada"})
    for answer in ("1", "não", "Centro"):
        step = form.step(step.progress, answer, today=TODAY)
    assert "2. Relato: a loja não entregou nada" in step.replies[0].text
    step = form.step(step.progress, "corrigir relato", today=TODAY)
    assert "Resposta atual: a loja não entregou nada" in step.replies[0].text
    step = form.step(step.progress, "a loja entregou a geladeira quebrada", today=TODAY)
    assert "2. Relato: a loja entregou a geladeira quebrada" in step.replies[0].text
    assert form.step(step.progress, "1", today=TODAY).data == {
        "tipo": "a",
        "texto": "a loja entregou a geladeira quebrada",
        "tem": False,
        "bairro": "Centro",
    }


#: Declarations the form meta-schema refuses, and what it says.
# fmt: off
BAD_DECLARATIONS = [
    ({"title": "X", "x-civic-prefill": "everything"}, "x-civic-prefill"),
    ({"title": "X", "oneOf": [{"const": 1, "title": "Um", "x-civic-keywords": "um"}]},
     "'um' is not of type 'array'"),
    ({"title": "X", "oneOf": [{"const": 1, "title": "Um", "x-civic-keyword": ["um"]}]},
     "'x-civic-keyword' was unexpected"),
]
# fmt: on


@pytest.mark.parametrize(("field", "error"), BAD_DECLARATIONS)
def test_the_declarations_are_checked(field: dict, error: str) -> None:
    problems = form_errors({"title": "T", "properties": {"x": field}})
    assert any(error in problem for problem in problems), problems


def test_the_department_forms_declare_what_they_prefill() -> None:
    assert PROCON.forms["reclamacao"]["properties"]["relato"]["x-civic-prefill"] == "description"
    assert CAC.forms["solicitacao"]["properties"]["descricao"]["x-civic-prefill"] == "description"
    for form in (PROCON.forms["reclamacao"], CAC.forms["solicitacao"]):
        assert form_errors(form) == []


# -- PROCON: the complaint form --------------------------------------------------------


def test_a_complaint_typed_with_name_and_cpf_asks_only_what_is_missing(
    engine: Engine, storage: Storage
) -> None:
    chat = Chat(engine)
    answer = chat.send(f"Maria da Silva 529.982.247-25 {GELADEIRA}")
    assert chat.state == State.FORM and chat.last.department == "procon"
    assert NOTED in answer
    assert "Tipo de problema: Produto não entregue ou entregue com atraso" in answer
    assert f"Relato: {GELADEIRA}" in answer
    assert answer.endswith("Qual é o nome da loja ou empresa (fornecedor)?")
    asked = []
    for typed in ("Lojas Exemplo", "pular", "www.exemplo.com.br", "Geladeira", "pular", "pular",
                  "pular", "não", "entrega do produto", "Extrema"):  # fmt: skip
        asked.append(chat.send(typed))
    assert not any("tipo de problema" in a or "Conte o que aconteceu" in a for a in asked)
    summary = asked[-1]
    assert "Confira suas respostas" in summary and f"Relato: {GELADEIRA}" in summary
    assert "PROCON-" in chat.send("1")
    with storage.reading() as tx:
        (conversation,) = tx.conversations()
        protocol = json.loads(conversation["context"])["protocols"][0]
        data = json.loads(tx.submission(protocol)["data"])
    assert data["relato"] == GELADEIRA and data["categoria"] == "entrega"


def test_a_description_typed_in_procon_fills_the_complaint(engine: Engine) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "procon")
    answer = chat.send("a loja não entregou minha geladeira")
    assert chat.state == State.DEPARTMENT  # no topic for it: the menu, as before
    answer = chat.send("1")
    assert chat.state == State.FORM
    assert "Relato: a loja não entregou minha geladeira" in answer
    assert "Tipo de problema: Produto não entregue" in answer


def test_two_descriptions_are_kept_one_a_line(engine: Engine) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "procon", "a loja não entregou minha geladeira",
                "já liguei três vezes e ninguém resolve")  # fmt: skip
    answer = chat.send("quero registrar uma reclamação")
    assert (
        "Relato: a loja não entregou minha geladeira\njá liguei três vezes e ninguém resolve"
        in answer
    )


def test_naming_the_request_describes_nothing(engine: Engine) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "procon")
    answer = chat.send("quero fazer uma reclamação")
    assert chat.state == State.FORM and NOTED not in answer


@pytest.mark.parametrize(
    "detour",
    [
        ["2", "sim", "procon"],  # another topic answered the citizen
        ["menu", "2"],  # back to the menu
    ],
)
def test_a_kept_description_goes_when_the_citizen_moves_on(
    engine: Engine, detour: list[str]
) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "procon", "a loja não entregou minha geladeira", *detour)
    answer = chat.send("1")
    assert chat.state == State.FORM and NOTED not in answer


def test_a_request_before_identifying_is_acted_on_once_identified(engine: Engine) -> None:
    chat = Chat(engine)
    assert "nome completo" in chat.send(f"oi, {GELADEIRA}")
    answer = chat.send(MARIA)
    assert chat.state == State.FORM and chat.last.department == "procon"
    assert f"Relato: {GELADEIRA}\n" in answer  # the greeting left out


def test_a_greeting_before_identifying_leaves_the_menu(engine: Engine) -> None:
    chat = Chat(engine)
    chat.send("oi, boa tarde")
    assert "Com qual setor você quer falar?" in chat.send(MARIA)


def test_a_city_asking_the_cpf_where_needed_keeps_the_request(storage: Storage) -> None:
    engine = Engine(
        storage, secret=SECRET, manager=load_plugins(), config=Config(identify="when_needed")
    )
    chat = Chat(engine)
    answer = chat.send(GELADEIRA)
    assert chat.state == State.IDENTIFYING and "preciso saber quem é você" in answer
    answer = chat.send(MARIA)
    assert chat.state == State.FORM and f"Relato: {GELADEIRA}" in answer


def test_a_pinned_department_acts_on_the_first_message(engine: Engine) -> None:
    chat = Chat(engine, pinned="procon")
    answer = chat.send(f"Maria da Silva 529.982.247-25 {GELADEIRA}")
    assert (chat.last.department, chat.state) == ("procon", State.FORM)
    assert f"Relato: {GELADEIRA}" in answer


# -- CAC: the request form --------------------------------------------------------------


def test_a_pothole_named_chooses_the_subject(engine: Engine) -> None:
    chat = Chat(engine)
    answer = chat.send("Joao Pereira 529 982 247 25 buraco na rua")
    assert (chat.last.department, chat.state) == ("cac", State.FORM)
    assert "Assunto: Buraco ou pavimentação" in answer
    assert "Sobre o que é a sua solicitação?" not in answer
    assert answer.endswith(
        "Descreva a sua solicitação.\nSe for um problema na rua, diga o endereço ou um ponto "
        "de referência."
    )


def test_a_described_request_asks_only_the_neighbourhood_and_the_answer(
    engine: Engine, storage: Storage
) -> None:
    chat = Chat(engine)
    answer = chat.send(
        "Oi bom dia, meu nome é Maria da Silva, CPF 529.982.247-25, tem um buraco enorme na "
        "Rua das Flores, em frente ao número 40"
    )
    assert "Descrição: tem um buraco enorme na Rua das Flores, em frente ao número 40" in answer
    assert answer.endswith("Em qual bairro?")
    assert "Como prefere receber a resposta?" in chat.send("Centro")
    summary = chat.send("1")
    assert "1. Assunto: Buraco ou pavimentação" in summary
    assert "CAC-" in chat.send("confirmar")
    with storage.reading() as tx:
        (conversation,) = tx.conversations()
        protocol = json.loads(conversation["context"])["protocols"][0]
        data = json.loads(tx.submission(protocol)["data"])
    assert data == {
        "assunto": "pavimentacao",
        "descricao": "tem um buraco enorme na Rua das Flores, em frente ao número 40",
        "bairro": "Centro",
        "contato": "whatsapp",
    }


def test_an_inferred_subject_is_changed_at_the_summary(engine: Engine) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "1", "poste apagado na rua das flores perto da escola", "Centro")
    summary = chat.send("1")
    assert "1. Assunto: Iluminação pública" in summary
    assert "Sobre o que é a sua solicitação?" in chat.send("corrigir assunto")
    assert "1. Assunto: Outro assunto" in chat.send("9")


def test_two_subjects_named_are_asked(engine: Engine) -> None:
    chat = Chat(engine)
    answer = chat.send("Maria da Silva 529.982.247-25 o galho da arvore caiu em cima do poste")
    assert chat.state == State.FORM
    assert "Assunto" not in answer and "Sobre o que é a sua solicitação?" in answer


# -- the kept words are data like any other: masked, bounded, never a crash -------------

LEAKS = ("52998224725", "982.247-25", "982 247 25", "11144477735", "444.777-35")


def stored_leaks(storage: Storage) -> list[tuple[str, str]]:
    found = []
    with storage.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                for value in row:
                    if any(leak in str(value) for leak in LEAKS):
                        found.append((table.name, str(value)[:120]))
    return found


@pytest.mark.parametrize(
    "message",
    [
        f"Maria da Silva 529.982.247-25 {GELADEIRA} " * 5000,  # 280 KB
        "Maria da Silva 529.982.247-25 " + "buraco " * 36_000,  # 250 KB
        "Maria da Silva 5\u200b2\u200b9.982.247-25 quero reclamar da loja "
        "111.444.777-35 que não entregou minha geladeira",
        "Maria \ud800 da Silva ５２９.９８２.２４７-２５ \ud83d buraco na rua \u202e "
        "529.982.247-25",
        "Maria da Silva 529.982.247-25 \u2063\u2063\u2063 \u200d",
    ],
    ids=["280KB-request", "250KB-word", "invisible-and-second-cpf", "surrogates", "invisible"],
)
def test_hostile_first_messages_never_crash_nor_leak(storage: Storage, message: str) -> None:
    engine = Engine(storage, secret=SECRET, manager=load_plugins())
    chat = Chat(engine)
    answer = chat.send(message)
    assert answer and "Obrigado, Maria!" in answer
    assert chat.state != State.IDENTIFYING
    if chat.state == State.FORM:
        answer += chat.send("Lojas Exemplo")
    assert not any(leak in answer for leak in LEAKS)
    assert stored_leaks(storage) == []
    with storage.reading() as tx:
        (conversation,) = tx.conversations()
    kept = Context.load(conversation["context"]).request
    assert kept is None or len(kept) <= request.REQUEST_LIMIT


def test_a_second_cpf_kept_in_a_department_is_masked(engine: Engine, storage: Storage) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "procon", "a loja diz que o CPF 111.444.777-35 não bate com o pedido")
    answer = chat.send("1")
    assert "Relato: a loja diz que o CPF ***.444.777-** não bate com o pedido" in answer
    assert stored_leaks(storage) == []


def test_the_kept_request_survives_storage() -> None:
    context = Context(request="a loja não entregou minha geladeira")
    assert Context.load(context.dump()) == context
    assert Context.load('{"request": 3}').request is None
