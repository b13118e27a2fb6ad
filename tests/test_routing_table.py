"""Routing as citizens write: typos, no accents, slang, long sentences (issue 10, item 2).

Each message is sent from the main menu, after the name and CPF, through the real engine
(``tests/chat.py``), and must reach the department and the action its row expects:

- ``form``: the department's form starts (``filling_form``);
- ``answer``: an automatic answer, then "Posso ajudar em algo mais?" (``offering_help``);
- ``department``: inside the department: its menu, or its question (``in_department``);
- ``ask``: a tie, so civic asks which department (``choosing_department``), offering
  exactly the departments of the row (``"ask:cac,procon"``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from civic.engine import Engine
from civic.plugins import load_plugins
from civic.storage import Storage
from tests.chat import MARIA, Chat
from tests.conftest import SECRET, make_storage

NOW = dt.datetime(2026, 3, 16, 13, 0, tzinfo=dt.UTC)

STATES = {
    "form": "filling_form",
    "answer": "offering_help",
    "department": "in_department",
    "ask": "choosing_department",
}
NAMES = {"cac": "CAC", "procon": "PROCON", "jsm": "Junta de Serviço Militar"}

# fmt: off
TABLE: list[tuple[str, str]] = [
    # -- CAC: IPTU, certidões, scheduling, social assistance (the front desk) --------
    ("segunda via do IPTU", "cac:form"),
    ("2a via do iptu", "cac:form"),
    ("preciso da segunda via do carne do iptu", "cac:form"),
    ("perdi o boleto do iptu como faço pra pegar outro", "cac:form"),
    ("IPTU", "cac:form"),
    ("iptu atrasado da pra parcelar?", "cac:form"),
    ("quero parcelar minha divida ativa", "cac:form"),
    ("onde pego a guia do iptu", "cac:form"),
    ("o carne do imposto predial nao chegou em casa", "cac:form"),
    ("bom dia, gostaria de saber como tirar a segunda via do IPTU do meu terreno", "cac:form"),
    ("quero uma certidão negativa de débitos", "cac:form"),
    ("certidao negativa", "cac:form"),
    ("preciso de uma sertidao pra levar no banco", "cac:form"),
    ("como tiro certidao de nada consta da prefeitura", "cac:form"),
    ("quero agendar atendimento", "cac:form"),
    ("quero agendar um horario", "cac:form"),
    ("queria marcar horario pra fazer a identidade", "cac:form"),
    ("como faço pra tirar o RG", "cac:form"),
    ("segunda via do rg", "cac:form"),
    ("preciso fazer carteira de trabalho", "cac:form"),
    ("agendamento", "cac:form"),
    ("tem como agendar pra eu ir ai resolver uns documentos?", "cac:form"),
    ("onde fica o cras", "cac:form"),
    ("preciso de assistencia social", "cac:form"),
    ("quero falar com a assistente social", "cac:form"),
    ("como faço o cadunico", "cac:form"),
    ("cadastro unico", "cac:form"),
    ("meu bolsa familia foi bloqueado o que eu faço", "cac:form"),
    ("to passando necessidade preciso de uma cesta basica", "cac:form"),
    ("como pedir o bpc pra minha mae", "cac:form"),
    ("auxilio da prefeitura", "cac:form"),
    # -- CAC: requests about public services (not consumer complaints) ---------------
    ("quero reclamar do posto de saude", "cac:form"),
    ("reclamação do posto de saúde do bairro, ninguém atende", "cac:form"),
    ("o postinho ta sem medico faz uma semana", "cac:form"),
    ("a ubs nao tem remedio", "cac:form"),
    ("quero fazer uma denuncia do posto de saude", "cac:form"),
    ("demora demais pra marcar consulta no posto", "cac:form"),
    ("a escola do meu filho ta sem merenda", "cac:form"),
    ("reclamar da creche municipal", "cac:form"),
    ("o onibus escolar nao passou hoje", "cac:form"),
    ("o onibus ta sempre atrasado", "cac:form"),
    ("tem um buraco enorme na minha rua", "cac:form"),
    ("buraco na rua", "cac:form"),
    ("poste apagado", "cac:form"),
    ("lampada do poste queimada na frente de casa", "cac:form"),
    ("a luz da rua ta apagada faz dias", "cac:form"),
    ("iluminação pública", "cac:form"),
    ("o lixo nao foi recolhido essa semana", "cac:form"),
    ("coleta de lixo nao passou", "cac:form"),
    ("tem entulho jogado na calçada", "cac:form"),
    ("terreno baldio cheio de mato e rato", "cac:form"),
    ("poda de arvore", "cac:form"),
    ("a arvore ta caindo em cima da casa", "cac:form"),
    ("esgoto a ceu aberto na rua de cima", "cac:form"),
    ("bueiro entupido, quando chove alaga tudo", "cac:form"),
    ("foco de dengue no terreno do vizinho", "cac:form"),
    ("o semaforo da avenida ta quebrado", "cac:form"),
    ("quero fazer uma solicitação", "cac:form"),
    ("solicitacao", "cac:form"),
    ("quero pedir uma coisa pra prefeitura", "cac:form"),
    ("preciso abrir um pedido na prefeitura", "cac:form"),
    ("calcada toda quebrada na rua principal", "cac:form"),
    ("asfalto afundou aqui no bairro", "cac:form"),
    ("muito mato na praça, ninguem limpa", "cac:form"),
    ("vacina da gripe onde tem", "cac:department"),
    # -- CAC: hours, address, phone, what it is --------------------------------------
    ("qual o horario de funcionamento?", "cac:answer"),
    ("que horas abre", "cac:answer"),
    ("vcs abrem sabado?", "cac:answer"),
    ("ate que horas funciona a casa do cidadao", "cac:answer"),
    ("horario", "cac:answer"),
    ("qual o endereço?", "cac:answer"),
    ("onde fica a casa do cidadao", "cac:answer"),
    ("qual o telefone da prefeitura", "cac:answer"),
    ("me passa o contato", "cac:answer"),
    ("tem whatsapp?", "cac:answer"),
    ("cac", "cac:department"),
    ("CAC", "cac:department"),
    ("1", "cac:department"),
    ("casa do cidadao", "cac:department"),
    ("informação", "cac:department"),
    ("tenho uma duvida", "cac:department"),
    ("prefeitura", "cac:department"),
    ("documentos", "cac:form"),
    ("segunda via", "cac:department"),
    # -- PROCON ----------------------------------------------------------------------
    ("procon", "procon:department"),
    ("PROCON", "procon:department"),
    ("2", "procon:department"),
    ("quero reclamar de uma loja", "procon:form"),
    ("reclamação contra loja", "procon:form"),
    ("quero registrar uma reclamação contra a empresa de internet", "procon:form"),
    ("a loja nao quer trocar meu produto", "procon:department"),
    ("comprei uma geladeira e veio com defeito", "procon:form"),
    ("celular estragou com 2 meses de uso", "procon:form"),
    ("minha tv quebrou e ta na garantia", "procon:form"),
    ("defeito", "procon:answer"),
    ("qual o prazo pra reclamar de produto com defeito?", "procon:answer"),
    ("quantos dias tenho pra desistir de uma compra online", "procon:answer"),
    ("como funciona o conserto na assistencia tecnica", "procon:answer"),
    ("comprei pela internet e quero desistir", "procon:form"),
    ("direito de arrependimento", "procon:answer"),
    ("quero devolver uma compra que fiz pela internet", "procon:form"),
    ("comprei um sofa e nao entregaram", "procon:department"),
    ("a loja me enrolou e nao entregou o produto", "procon:department"),
    ("cobrança indevida no meu cartao", "procon:department"),
    ("o banco ta me cobrando uma taxa que eu nao contratei", "procon:department"),
    ("a operadora de celular me cobrou a mais", "procon:department"),
    ("fatura da internet veio errada", "procon:department"),
    ("plano de saude negou meu exame", "procon:department"),
    ("direito do consumidor", "procon:department"),
    ("fui lesado numa compra", "procon:department"),
    ("quero meu dinheiro de volta, a loja nao devolve", "procon:department"),
    ("reembolso", "procon:department"),
    ("o fornecedor sumiu com meu dinheiro", "procon:department"),
    ("nao consigo cancelar o contrato da academia", "procon:department"),
    ("propaganda enganosa no mercado, preço da gondola diferente do caixa", "procon:department"),
    ("empresa de telefonia nao resolve meu problema", "procon:department"),
    ("conta de luz absurda esse mes", "procon:department"),
    ("comprei um carro usado com defeito escondido", "procon:form"),
    ("produto vencido no supermercado", "procon:department"),
    ("quero processar a loja", "procon:department"),
    ("consumidor", "procon:department"),
    ("a assistencia tecnica ficou com meu celular 2 meses", "procon:form"),
    ("cdc", "procon:department"),
    # -- JSM ------------------------------------------------------------------------
    ("3", "jsm:department"),
    ("jsm", "jsm:department"),
    ("junta militar", "jsm:department"),
    ("junta do serviço militar", "jsm:department"),
    ("quero me alistar", "jsm:answer"),
    ("alistamento", "jsm:answer"),
    ("alistamento militar", "jsm:answer"),
    ("como faço o alistamento", "jsm:answer"),
    ("fiz 18 anos e preciso me alistar", "jsm:answer"),
    ("como me alisto no exercito", "jsm:answer"),
    ("quais documentos pro alistamento", "jsm:answer"),
    ("perdi o prazo do alistamento, e agora?", "jsm:department"),
    ("to atrasado no alistamento vou pagar multa?", "jsm:department"),
    ("servico militar", "jsm:department"),
    ("serviço militar obrigatório", "jsm:department"),
    ("reservista", "jsm:answer"),
    ("certificado de reservista", "jsm:answer"),
    ("exar", "jsm:answer"),
    ("quero o certificado de dispensa", "jsm:answer"),
    ("cdi", "jsm:answer"),
    ("quando é o juramento a bandeira", "jsm:answer"),
    ("juramento", "jsm:answer"),
    ("segunda via do CAM", "jsm:form"),
    ("onde faço o alistamento militar", "jsm:answer"),
    ("quero agendar na junta militar", "jsm:form"),
    ("agendar atendimento na junta do servico militar", "jsm:form"),
    ("exercito", "jsm:department"),
    ("dispensa do exercito", "jsm:answer"),
    ("comprei um celular na loja do centro e depois de 10 dias parou de funcionar, a loja "
     "diz que nao pode fazer nada", "procon:form"),
    ("boa tarde, preciso de ajuda com o imposto da minha casa", "cac:form"),
    ("onde tiro a carteira de identidade", "cac:form"),
    ("preciso de um documento da prefeitura pra comprovar endereço", "cac:form"),
    ("o vizinho ta com som alto ate de madrugada todo dia", "cac:form"),
    ("tem um cachorro solto mordendo as pessoas na praça", "cac:form"),
    ("oi bom dia queria saber se ja posso pegar meu certificado de reservista", "jsm:answer"),
    ("quero cancelar minha compra", "procon:department"),
    # -- ties: civic asks which department -------------------------------------------
    ("quero fazer uma reclamação", "ask:cac,procon"),
    ("reclamacao", "ask:cac,procon"),
    ("quero reclamar", "ask:cac,procon"),
    ("reclamar", "ask:cac,procon"),
    ("queria registrar uma reclamacao", "ask:cac,procon"),
    ("to muito insatisfeita, quero reclamar", "ask:cac,procon"),
    ("oi boa tarde quero fazer uma reclamaçao por favor", "ask:cac,procon"),
    ("reclamaçao", "ask:cac,procon"),
]
# fmt: on

_addresses = itertools.count(1)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One engine for the whole table: each message comes from a new citizen address."""
    storage: Storage = make_storage("sqlite", Path(tmp_path_factory.mktemp("routing")))
    engine = Engine(storage, secret=SECRET, manager=load_plugins(), clock=lambda: NOW)
    yield engine
    storage.close()


def test_the_table_is_big_enough() -> None:
    assert len(TABLE) >= 150
    assert len({message for message, _ in TABLE}) == len(TABLE)


@pytest.mark.parametrize(("message", "expected"), TABLE, ids=[m for m, _ in TABLE])
def test_message_reaches(engine: Engine, message: str, expected: str) -> None:
    chat = Chat(engine, address=f"55359{next(_addresses):08d}")
    chat.script(MARIA)
    answer = chat.send(message)
    target, action = expected.split(":")[0], expected.split(":")[-1]
    assert chat.last is not None
    if target == "ask":
        slugs = action.split(",")
        assert chat.state == STATES["ask"], answer
        assert "Você quer falar com qual setor?" in answer
        offered = [name for slug, name in NAMES.items() if f". {name}\n" in answer + "\n"]
        assert offered == [NAMES[slug] for slug in slugs], answer
        assert "Não entendi" not in answer
        return
    assert (chat.last.department, chat.state) == (target, STATES[action]), answer


@pytest.mark.parametrize(("answer", "slug"), [("1", "cac"), ("2", "procon"), ("procon", "procon")])
def test_the_answer_to_the_question_routes(engine: Engine, answer: str, slug: str) -> None:
    """The number or name that answers the question routes, and the sentence asked about
    is the request there: "quero fazer uma reclamação" starts the department's form,
    rather than its menu as if nothing had been said."""
    chat = Chat(engine, address=f"55359{next(_addresses):08d}")
    chat.script(MARIA, "quero fazer uma reclamação")
    answer = chat.send(answer)
    assert chat.last is not None
    assert (chat.last.department, chat.state) == (slug, "filling_form"), answer
    assert "Anotei" not in answer  # naming the kind of request describes nothing


def test_a_new_sentence_answering_the_question_is_the_request(engine: Engine) -> None:
    chat = Chat(engine, address=f"55359{next(_addresses):08d}")
    chat.script(MARIA, "quero fazer uma reclamação")
    answer = chat.send("tem um buraco enorme na minha rua")
    assert chat.last is not None
    assert (chat.last.department, chat.state) == ("cac", "filling_form")
    assert "Descrição: tem um buraco enorme na minha rua" in answer
    assert "reclamação" not in answer.split("Anotei")[1]


def test_a_described_request_asked_about_fills_the_form(engine: Engine) -> None:
    chat = Chat(engine, address=f"55359{next(_addresses):08d}")
    sentence = "quero fazer uma reclamação, fui muito mal atendida e ninguém resolveu nada"
    chat.script(MARIA, sentence)
    assert chat.state == "choosing_department"
    answer = chat.send("2")
    assert chat.state == "filling_form"
    assert f"Relato: {sentence}" in answer


def test_a_menu_number_after_the_question_keeps_nothing(engine: Engine) -> None:
    """Leaving the question for the menu drops the sentence: a later department starts
    from its own menu."""
    chat = Chat(engine, address=f"55359{next(_addresses):08d}")
    sentence = "quero fazer uma reclamação, fui muito mal atendida e ninguém resolveu nada"
    chat.script(MARIA, sentence, "menu")
    answer = chat.send("2")
    assert chat.state == "in_department" and "Você está no PROCON" in answer


def test_a_city_adds_keywords(tmp_path: Path) -> None:
    """``[departments.cac] keywords = [...]`` routes the city's own words."""
    from civic.config import parse_config

    config = parse_config({"departments": {"cac": {"keywords": ["sedese"]}}})
    storage = make_storage("sqlite", tmp_path)
    try:
        engine = Engine(storage, secret=SECRET, manager=load_plugins(), config=config)
        chat = Chat(engine)
        chat.script(MARIA)
        chat.send("quero ir na sedese")
        assert chat.last is not None
        assert chat.last.department == "cac"
    finally:
        storage.close()


def test_a_tie_after_posso_ajudar_is_asked_too(engine: Engine) -> None:
    """In "Posso ajudar em algo mais?", a sentence that fits two departments is asked
    about, not answered with "Não entendi"."""
    chat = Chat(engine, address=f"55359{next(_addresses):08d}")
    chat.script(MARIA, "qual o horario de funcionamento?")
    assert chat.state == "offering_help"
    answer = chat.send("agora quero fazer uma reclamação")
    assert chat.state == "choosing_department"
    assert "1. CAC" in answer and "2. PROCON" in answer and "3." not in answer
    chat.send("CAC")
    assert chat.last is not None
    assert (chat.last.department, chat.state) == ("cac", "filling_form")


# -- the first message: name, CPF and the request together -----------------------------

#: First messages of a conversation, as citizens type them: the name, the CPF (dots,
#: spaces, fullwidth digits, an invisible character inside), and what they want. Each
#: row: the message, the first name civic greets, and where it goes: as :data:`TABLE`,
#: or ``menu`` (nothing asked besides the name and CPF), or ``human`` (the team).
# fmt: off
FIRST_MESSAGES: list[tuple[str, str, str]] = [
    ("Maria da Silva 529.982.247-25 quero reclamar da loja que não entregou minha geladeira",
     "Maria", "procon:form"),
    ("maria da silva 52998224725 quero reclamar da loja q nao entregou minha geladeira",
     "Maria", "procon:form"),
    ("Oi bom dia, meu nome é Maria da Silva, CPF 529.982.247-25, tem um buraco enorme na "
     "minha rua", "Maria", "cac:form"),
    ("Joao Pereira 529 982 247 25 buraco na rua", "Joao", "cac:form"),
    ("JOSE DE ALENCAR 529982247-25 poste apagado na rua das flores", "Jose", "cac:form"),
    ("Ana Paula 529.982.247-25 segunda via do iptu", "Ana", "cac:form"),
    ("Ana Paula 529.982.247-25 qual o horario de funcionamento?", "Ana", "cac:answer"),
    ("Carlos Souza 529.982.247-25 quero me alistar", "Carlos", "jsm:answer"),
    ("Carlos Souza, cpf 529.982.247.25, perdi o prazo do alistamento", "Carlos",
     "jsm:department"),
    ("Maria 529.982.247-25 quero fazer uma reclamação", "Maria", "ask:cac,procon"),
    ("Maria da Silva 529.982.247-25 to muito insatisfeita, quero reclamar", "Maria",
     "ask:cac,procon"),
    ("Maria da Silva 529.982.247-25 comprei uma geladeira e veio com defeito", "Maria",
     "procon:form"),
    ("meu cpf é 529.982.247-25 e meu nome é Maria da Silva, o lixo não foi recolhido essa "
     "semana", "Maria", "cac:form"),
    ("529.982.247-25 Maria da Silva, a loja me cobrou a mais no cartao", "Maria",
     "procon:department"),
    ("Maria da Silva 529.982.247-25 quero falar com um atendente", "Maria", "human"),
    ("Maria da Silva 529.982.247-25 procon", "Maria", "procon:department"),
    ("Maria da Silva 529.982.247-25 2", "Maria", "procon:department"),
    ("Maria da Silva 529.982.247-25 reclamação contra a loja", "Maria", "procon:form"),
    ("Maria da Silva 529.982.247-25 o postinho ta sem medico faz uma semana", "Maria",
     "cac:form"),
    ("Maria da Silva 529.982.247-25 a arvore ta caindo em cima da casa", "Maria", "cac:form"),
    ("Maria da Silva 529.982.247-25 vcs abrem sabado?", "Maria", "cac:answer"),
    ("boa tarde sou a maria 529.982.247-25 preciso de uma certidao negativa", "Maria",
     "cac:form"),
    ("Maria da Silva 529.982.247-25 quero cancelar minha compra", "Maria", "procon:department"),
    ("Maria da Silva 529.982.247-25 direito de arrependimento", "Maria", "procon:answer"),
    ("Maria da Silva 529.982.247-25 nao consigo cancelar o contrato da academia", "Maria",
     "procon:department"),
    ("Pedro Henrique 529.982.247-25 reservista", "Pedro", "jsm:answer"),
    ("Maria da Silva ５２９.９８２.２４７-２５ buraco na rua", "Maria", "cac:form"),
    ("Maria da Silva 529.\u200b982.247-25 buraco na rua", "Maria", "cac:form"),
    ("Maria da Silva 529982247 25 quero reclamar da loja", "Maria", "procon:form"),
    ("Maria da Silva 529.982.247-25 a geladeira que comprei nunca chegou", "Maria",
     "procon:department"),
    ("Maria da Silva quero reclamar 529.982.247-25 da loja de moveis que nao entregou o sofa",
     "Maria", "procon:form"),
    ("Maria da Silva - 529.982.247-25 - onde fica o cras", "Maria", "cac:form"),
    ("Oi sou o Tiago Lima cpf 52998224725 qria tirar a 2a via do iptu pfv", "Tiago",
     "cac:form"),
    ("Fernanda Costa 529.982.247-25 o banco ta me cobrando uma taxa que eu nao contratei",
     "Fernanda", "procon:department"),
    ("Bruno 529.982.247-25 lampada do poste queimada na frente de casa", "Bruno", "cac:form"),
    ("Maria da Silva 529.982.247-25 segunda via do CAM", "Maria", "jsm:form"),
    ("Luiz Gustavo 529.982.247-25 tem um cachorro solto mordendo as pessoas na praça", "Luiz",
     "cac:form"),
    ("Rafaela 529.982.247-25, a operadora de celular me cobrou a mais", "Rafaela",
     "procon:department"),
    # nothing asked besides the name and CPF: the menu, as before (no "Não entendi")
    ("Maria da Silva 529.982.247-25", "Maria", "menu"),
    ("Oi, Maria da Silva 529.982.247-25, tudo bem?", "Maria", "menu"),
    ("Maria da Silva 529.982.247-25 obrigada", "Maria", "menu"),
    ("Bom dia! Meu nome é Maria da Silva e meu CPF é 529.982.247-25.", "Maria", "menu"),
]
# fmt: on
REQUESTS = [row for row in FIRST_MESSAGES if row[2] != "menu"]


def test_the_first_message_table_is_big_enough() -> None:
    assert len(REQUESTS) >= 20
    assert len({message for message, _, _ in FIRST_MESSAGES}) == len(FIRST_MESSAGES)


@pytest.mark.parametrize(
    ("message", "name", "expected"), FIRST_MESSAGES, ids=[m for m, _, _ in FIRST_MESSAGES]
)
def test_the_first_message_is_identified_and_routed(
    engine: Engine, message: str, name: str, expected: str
) -> None:
    """The request typed with the name and CPF is routed like any message; the CPF is
    never echoed in clear."""
    chat = Chat(engine, address=f"55359{next(_addresses):08d}")
    answer = chat.send(message)
    assert chat.last is not None
    assert f", {name}!" in answer, answer  # "Obrigado, Maria!" or "... de novo, Maria!"
    assert "52998224725" not in answer.replace(".", "").replace("-", "").replace(" ", "")
    assert "Não entendi" not in answer and "Não encontrei" not in answer
    target, action = expected.split(":")[0], expected.split(":")[-1]
    if target == "menu":
        assert chat.state == "choosing_department"
        assert "Com qual setor você quer falar?" in answer
    elif target == "human":
        assert chat.state == "waiting_human"
    elif target == "ask":
        assert chat.state == STATES["ask"]
        offered = [name for slug, name in NAMES.items() if f". {name}\n" in answer + "\n"]
        assert offered == [NAMES[slug] for slug in action.split(",")], answer
    else:
        assert (chat.last.department, chat.state) == (target, STATES[action]), answer
